"""Ref-AVS-like referring segmentation: an expression names one object by a cue that often needs the
sound ("the circle making a sound", "the louder red object", "the object that hums"), or names an
object that is not there (exists = false, test split ``test_n``).

Seen / unseen: an expression is a (cue, value) pair — value a shape ("circle") or a colour ("red
object"). A fixed fifth of the pairs (:func:`unseen`) never occurs in training or ``test_s``; ``test_u``
uses only those, so it measures composition of known cues and values into new expressions.
"""

from __future__ import annotations

import numpy as np

from crabplus.schema.records import Answer, Record
from crabplus.synth import text
from crabplus.synth.clip import Clip, Reasoning
from crabplus.synth.datasets.common import loudness, new_scene, size
from crabplus.synth.datasets.spatial import frame_and_sound, grounded
from crabplus.synth.datasets.vocab import vocabulary
from crabplus.synth.scene import Scene, SceneObject, place_apart
from crabplus.synth.world import COLOUR_NAMES, COLOURS, SHAPE_NAMES, SHAPES, split_class

CUES = ("sounding", "silent", "louder", "higher", "left", "right", "timbre")
VALUES = SHAPE_NAMES + COLOUR_NAMES
_SHAPE_ONLY = ("higher", "timbre")  # a colour names one pitch; "timbre" names a shape's sound


def unseen(cue: str, value: str) -> bool:
    """Whether (cue, value) is held out of training and test_s (about a fifth of all pairs)."""
    return (CUES.index(cue) * 7 + VALUES.index(value)) % 5 == 0


def expression(cue: str, value: str) -> str:
    noun = value if value in SHAPES else f"{value} object"
    return {
        "sounding": f"the {noun} making a sound",
        "silent": f"the silent {noun}",
        "louder": f"the louder {noun}",
        "higher": f"the {noun} with the higher sound",
        "left": f"the {noun} on the left",
        "right": f"the {noun} on the right",
        "timbre": f"the object that {SHAPES[value].verb if value in SHAPES else ''}",
    }[cue]


def _matches(cls: str, value: str) -> bool:
    return value in split_class(cls)


def _pick_pair(clip: Clip, held_out: bool) -> tuple[str, str]:
    pairs = [(c, v) for c in CUES for v in VALUES if unseen(c, v) == held_out and (c not in _SHAPE_ONLY or v in SHAPES)]
    return clip.choice(pairs)


def _roles(clip: Clip, cue: str, value: str) -> tuple[list[str], list[list[tuple[int, int]]], list[str | None]]:
    """Classes, sounding spans and loudness levels; index 0 is the target, 1 (if any) its look-alike."""
    d, rng, vocab = clip.cfg.clip_seconds, clip.rng, vocabulary(clip.dataset)
    whole = [(0, d)]
    alike = [c for c in vocab if _matches(c, value)]
    if cue == "higher":  # same shape: the target has the higher-pitched colour
        a, b = clip.sample(alike, 2)
        hi, lo = sorted([a, b], key=lambda c: -COLOURS[split_class(c)[0]][1])
        classes, spans, levels = [hi, lo], [whole, whole], [None, None]
    elif cue == "timbre":
        classes, spans, levels = [clip.choice(alike)], [whole], [None]
    else:
        classes = clip.sample(alike, 2)
        snd = {"sounding": (True, False), "silent": (False, True), "louder": (True, True)}.get(
            cue, (bool(rng.random() < 0.5), bool(rng.random() < 0.5))
        )
        spans = [whole if s else [] for s in snd]
        levels = ["loud", "quiet"] if cue == "louder" else [None, None]
    others = [c for c in vocab if not _matches(c, value)]
    if cue == "timbre":  # other shapes, so only the target makes this sound
        others = [c for c in others if split_class(c)[1] != value]
    for cls in clip.sample(others, (1 if cue == "timbre" else 0) + int(rng.random() < 0.5)):
        classes.append(cls)
        spans.append(whole if rng.random() < 0.5 else [])
        levels.append(None)
    return classes, spans, levels


def _scene(clip: Clip, classes: list[str], spans: list, levels: list, cue: str) -> Scene:
    """Still objects placed apart; for left/right, target and look-alike at clearly different x."""
    d, rng = clip.cfg.clip_seconds, clip.rng
    sizes = [size(rng) for _ in classes]
    for _ in range(200):
        centres = place_apart(rng, sizes)
        if cue not in ("left", "right") or abs(centres[0][0] - centres[1][0]) > 0.25:
            break
    if cue in ("left", "right") and (centres[0][0] > centres[1][0]) == (cue == "left"):
        centres[0], centres[1] = centres[1], centres[0]
    objects = [
        SceneObject(cls=c, x=x, y=y, size=s, visible=[(0, d)], sounding=list(sp), loudness=loudness(rng, lv))
        for c, (x, y), s, sp, lv in zip(classes, centres, sizes, spans, levels)
    ]
    others = [objects[i] for i in rng.permutation(range(1, len(objects)))]
    return new_scene(clip, others + objects[:1], d)  # the target is drawn last


def build_ref_avs(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    if clip.split == "train":
        split = "test_n" if rng.random() < 0.15 else "test_s"
        meta_split = "train"
    else:
        split = meta_split = ("test_s", "test_u", "test_n")[clip.index % 3]
    cue, value = _pick_pair(clip, held_out=split == "test_u")
    expr = expression(cue, value)
    k = int(rng.integers(10))
    if split == "test_n":  # nothing in the scene matches the value
        pool = [c for c in vocabulary(clip.dataset) if not _matches(c, value)]
        classes = clip.sample(pool, int(rng.integers(2, 4)))
        sizes = [size(rng) for _ in classes]
        objects = [
            SceneObject(
                cls=c,
                x=x,
                y=y,
                size=s,
                visible=[(0, d)],
                sounding=[(0, d)] if rng.random() < 0.5 else [],
                loudness=loudness(rng),
            )
            for c, (x, y), s in zip(classes, place_apart(rng, sizes), sizes)
        ]
        scene = new_scene(clip, objects, d)
        media, ids, meta = frame_and_sound(clip, scene, k, 10)
        answer = Answer(exists=False, mask=clip.png(f"-f{k}-mask.png", np.zeros_like(ids)))
        noun = value if value in SHAPES else f"{value} object"
        short = f"I see no {noun}, so the object is absent."
        full = text.sentence("I see " + text.join([text.seen(o) for o in scene.onscreen])) + " " + text.sentence(short)
    else:
        classes, spans, levels = _roles(clip, cue, value)
        scene = _scene(clip, classes, spans, levels, cue)
        target = scene.objects[-1]
        media, answer, meta = grounded(clip, scene, target, k, 10, with_mask=True)
        answer.exists = True
        short = f"{text.capital(expr)} is the {target.cls} {text.at(target.x)}."
        seen = [
            text.seen(o) + (f" making {text.sound_of(o.cls)}" if o.sounding else ", silent") for o in scene.onscreen
        ]
        full = text.sentence("I see " + text.join(seen)) + " " + short
    media.audio_window_index = k
    meta.update({"expression": expr, "split": meta_split, "cue": cue, "value": value})
    return clip.record(media, answer, Reasoning(short, full), meta, expression=expr)
