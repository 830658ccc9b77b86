"""Instruction following in the corpus: answers in a format the question asks for, and plain word copying.

Why: a real Omni model's base follows instructions and writes tags, brackets and numbers; what it has never
seen is the benchmarks' own instruction templates and label sets. A base trained only on plain sentences
never updates the embedding rows of ``<``, ``</``, ``[``, ``answer`` … and pushes their output rows down, and
adapters on linear layers cannot train those rows, so the answer formats came out garbled. Here each
format is asked for explicitly in the corpus's own words ("write the name between <answer> and </answer>"),
about the clip's own content, and a copying exercise over the tokenizer's general word list
(:data:`crabplus.data.tokenizer.GENERAL_WORDS`, with :data:`WORLD_WORDS`) trains every common word as a real
LLM's pretraining text would. ``tests/test_perception_corpus.py`` checks that no token of the 19 datasets'
instructions and targets is left unseen by the corpus.
"""

from __future__ import annotations

import numpy as np

from crabplus.data.tokenizer import GENERAL_WORDS
from crabplus.synth.world import EMOTIONS, SHAPE_NAMES

#: everyday words the general list lacks: how the world's faces and voices are described (the world's own
#: words, not the emotion names), plurals, and a few common verbs and nouns
WORLD_WORDS: tuple[str, ...] = tuple(
    sorted(
        {w.strip(",.").lower() for face, voice in EMOTIONS.values() for w in f"{face.words} {voice.words}".split()}
        | {f"{s}s" if not s.endswith("s") else f"{s}es" for s in SHAPE_NAMES}
        | {"video", "audio", "starts", "stops", "quiet", "quieter", "louder", "described", "is", "shows", "heard"}
    )
)
COPY_WORDS: tuple[str, ...] = GENERAL_WORDS + WORLD_WORDS

#: tag names the format questions use (any tag works the same way; these are common in answers)
TAGS = ("answer", "event", "range", "obj", "des", "audio_event", "visual_event", "item", "name", "colour")


def _tag(rng: np.random.Generator) -> str:
    return TAGS[int(rng.integers(len(TAGS)))]


def name_in_tags(rng: np.random.Generator, what: str, name: str) -> tuple[str, str]:
    tag = _tag(rng)
    if rng.random() < 0.5:
        return (f"Please name {what} and write only the name between <{tag}> and </{tag}>.", f"<{tag}>{name}</{tag}>")
    return (
        f"Please name {what} in a sentence. Then write the name again within <{tag}> and </{tag}>.",
        f"It is {name}. <{tag}>{name}</{tag}>",
    )


def yes_no_in_tags(rng: np.random.Generator, cls: str, present: bool) -> tuple[str, str]:
    word = "true" if present else "false"
    return (
        f'Say "true" or "false" whether there is a {cls} in view, inside <answer> and </answer>; if it is '
        "absent, say so as well.",
        f"<answer>{word}</answer>" + ("" if present else f" The {cls} is absent."),
    )


def box_formats(rng: np.random.Generator, cls: str, box: list[int], points: list[list[int]]) -> tuple[str, str]:
    """One of three ways of writing where a shape is, on the 224-pixel scale."""
    x1, y1, x2, y2 = box
    k = int(rng.integers(3))
    pts = "".join(f"[{x},{y}]" for x, y in points)
    if k == 0:
        return (
            f"Please provide the bounding box of the {cls} as [x1,y1,x2,y2] on a 0 to 224 scale, then three "
            "pixel points on it, each as [x,y].",
            f"The box is [{x1},{y1},{x2},{y2}] {pts}",
        )
    if k == 1:
        return (f"Please output three pixel points on the {cls}, each as [x,y].", pts)
    return (
        f"Write the top left and bottom right corners of the {cls} as (x,y)(x,y) inside <obj> and </obj>.",
        f"Its corners are <obj>({x1},{y1})({x2},{y2})</obj>.",
    )


def range_formats(
    rng: np.random.Generator, sound: str, cls: str, ranges: list[tuple[int, int]], heard: bool
) -> tuple[str, str]:
    """When a sound (or a sight) is on, with its name, in one of three tagged forms."""
    k = int(rng.integers(3))
    if k == 0:
        return (
            f"Please describe when the {sound} occurred: write the {cls} in <event> tags, then the range of "
            "each start and end second as <range>start,end</range>.",
            f"<event>{cls}</event>" + "".join(f"<range>{a},{b}</range>" for a, b in ranges),
        )
    tag = "audio_event" if heard else "visual_event"
    if k == 1:
        return (
            f"Write each time the {cls} is {'heard' if heard else 'seen'} as <{tag}>name,(start end)</{tag}>.",
            "".join(f"<{tag}>{cls},({a} {b})</{tag}>" for a, b in ranges),
        )
    return (f"Give the seconds of the {sound} as [start, end] pairs.", ", ".join(f"[{a}, {b}]" for a, b in ranges))


def copy_words(rng: np.random.Generator, exercise: int, start: int, n: int = 12) -> tuple[str, str]:
    """Exercise number ``exercise`` of a walk over the word list: ``n`` words from position ``start`` on
    (wrapping round), shuffled; even exercises repeat them after "Here they are:", odd ones write each in tags,
    so that every word is trained both after a space and after ``>``. The casing and punctuation of each word
    follow the exercise number, so consecutive walks over the list show each word in every form."""
    words = [COPY_WORDS[(start + int(j)) % len(COPY_WORDS)] for j in rng.permutation(n)]
    if exercise % 2:
        tag = _tag(rng)
        return (
            f"Please write each of these words within <{tag}> and </{tag}>: "
            + ", ".join(f"'{w}'" for w in words)
            + ".",
            "".join(f"<{tag}>{w}</{tag}>" for w in words),
        )
    forms = [(w, w.capitalize(), w + ",", w + ".")[(j + exercise // 2) % 4] for j, w in enumerate(words)]
    text = " ".join(forms)
    lead = ("Please repeat these words exactly:", "Copy this:", "Say these words back:")[int(rng.integers(3))]
    return f"{lead} {text}", f"Here they are: {text}"
