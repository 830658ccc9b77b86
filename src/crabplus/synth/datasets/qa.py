"""Question answering: avqa (MUSIC-AVQA-like, open answers from a closed vocabulary) and avqa_thu
(AVQA-like, four options).

Scenes put 2-3 objects in the left / middle / right thirds (motions that never leave their third),
each silent or sounding over a whole-second span at a quiet or loud level, sometimes with an
off-screen sound. Sounding objects have different colours, so their pitches differ. Each question
type is built with the scene it needs (e.g. comparatives get one loud and one quiet sound).
"""

from __future__ import annotations

from crabplus.schema.records import Answer, Media, Record
from crabplus.synth import text
from crabplus.synth.clip import Clip, Reasoning
from crabplus.synth.datasets.common import loudness, new_scene, offscreen, write_video
from crabplus.synth.datasets.vocab import vocabulary
from crabplus.synth.scene import Scene, SceneObject, place, random_range
from crabplus.synth.world import MOTIONS, NUMBER_WORDS, split_class

SLOTS = {"left": 1 / 6, "middle": 1 / 2, "right": 5 / 6}
#: motions that keep an object inside its third of the frame (vertical or in place)
SLOT_MOTIONS = ("still", "spin", "bounce", "fall")

#: MUSIC-AVQA question types (modality-kind) and AVQA types with their relation
AVQA_TYPES = (
    "Audio-Counting",
    "Audio-Comparative",
    "Visual-Counting",
    "Visual-Location",
    "Audio-Visual-Existential",
    "Audio-Visual-Counting",
    "Audio-Visual-Location",
    "Audio-Visual-Comparative",
    "Audio-Visual-Temporal",
)
THU_TYPES = {
    "Which": "Both",
    "Come From": "Both",
    "Happening": "Visual",
    "Where": "Visual",
    "When": "Audio",
    "Before Next": "Audio",
}


def slot_scene(
    clip: Clip,
    n: int,
    sounding: list[tuple[int, int] | None],
    levels: list[str | None],
    off: tuple[int, int] | None = None,
) -> Scene:
    """``n`` on-screen objects in random distinct thirds; object i sounds over ``sounding[i]`` (None =
    silent) at ``levels[i]``; ``off`` adds an off-screen sound over that span. Sounding classes
    (on- and off-screen) have pairwise different colours."""
    d, rng = clip.cfg.clip_seconds, clip.rng
    slots = clip.sample(list(SLOTS), n)
    vocab = vocabulary(clip.dataset)
    classes: list[str] = []
    for cls in clip.sample(vocab, len(vocab)):
        if len(classes) == n:
            break
        colour = split_class(cls)[0]
        if sounding[len(classes)] is None or all(
            split_class(c)[0] != colour for i, c in enumerate(classes) if sounding[i] is not None
        ):
            classes.append(cls)
    objects = []
    for i in range(n):
        size = float(rng.uniform(0.18, 0.2))
        motion = clip.choice(SLOT_MOTIONS)
        _, y = place(rng, motion, size)
        objects.append(
            SceneObject(
                cls=classes[i],
                x=SLOTS[slots[i]],
                y=y,
                size=size,
                motion=motion,
                phase=float(rng.uniform(0, 5)),
                visible=[(0, d)],
                sounding=[sounding[i]] if sounding[i] else [],
                loudness=loudness(rng, levels[i]),
            )
        )
    if off is not None:
        colours = {o.colour for o in objects if o.sounding}
        pool = [c for c in vocab if c not in classes and split_class(c)[0] not in colours]
        objects.append(offscreen(clip, clip.choice(pool), [off]))
    return new_scene(clip, objects, d)


def _spans(clip: Clip, k: int, distinct_starts: bool = False) -> list[tuple[int, int]]:
    d = clip.cfg.clip_seconds
    for _ in range(100):
        spans = [random_range(clip.rng, d, min_len=2) for _ in range(k)]
        if not distinct_starts or len({s for s, _ in spans}) == k:
            return spans
    raise ValueError("cannot draw spans with distinct starts")


def _pos(o: SceneObject) -> str:
    return text.where(o.x)


def _describe(scene: Scene, d: int) -> str:
    seen = text.join([f"{text.a(o.cls)} {text.at(o.x)}" for o in scene.onscreen])
    heard = [text.heard(o, d) for o in scene.objects if o.sounding]
    return (
        text.sentence("I see " + seen)
        + " "
        + (text.sentence("I hear " + text.join(heard)) if heard else "I hear only background noise.")
    )


def _loud_word(o: SceneObject) -> str:
    return "loud" if o.loudness >= 0.16 else "quiet"


def build_avqa(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    qtype = clip.balanced(AVQA_TYPES)
    n = int(rng.integers(2, 4))
    full_sound = [(0, d)] * 3
    if qtype in ("Audio-Comparative", "Audio-Visual-Comparative"):
        levels = clip.sample(["loud", "quiet"], 2) + ["quiet"]
        scene = slot_scene(clip, n, [full_sound[0], full_sound[1]] + [None], levels)
        a, b = scene.onscreen[0], scene.onscreen[1]
        if qtype == "Audio-Comparative":
            question = f"Is the {a.cls} louder than the {b.cls}?"
            why = f"The {a.cls} is {_loud_word(a)} and the {b.cls} is {_loud_word(b)}."
        else:
            question = f"Is the object on the {_pos(a)} louder than the object on the {_pos(b)}?"
            why = f"The {_pos(a)} one is {_loud_word(a)} and the {_pos(b)} one is {_loud_word(b)}."
        answer = "yes" if a.loudness > b.loudness else "no"
    elif qtype == "Audio-Visual-Temporal":
        k = min(n, 2 + int(rng.random() < 0.5))
        spans = _spans(clip, k, distinct_starts=True)
        scene = slot_scene(clip, n, spans + [None] * (n - k), [None] * n)
        first = min((o for o in scene.onscreen if o.sounding), key=lambda o: o.sounding[0][0])
        question, answer = "Which object makes a sound first?", first.cls
        why = f"The {first.cls} starts first, at second {first.sounding[0][0]}."
    else:
        on = [s if rng.random() < 0.6 else None for s in _spans(clip, n)]
        if qtype == "Audio-Visual-Location" and all(s is None for s in on):
            on[0] = random_range(rng, d, min_len=2)
        off = random_range(rng, d, min_len=2) if rng.random() < 0.35 else None
        scene = slot_scene(clip, n, on, [None] * n, off)
        sounding = [o for o in scene.objects if o.sounding]
        onscreen_sounding = [o for o in scene.onscreen if o.sounding]
        if qtype == "Audio-Counting":
            question, answer = "How many different sounds are heard in the video?", NUMBER_WORDS[len(sounding)]
            why = f"I hear {text.join([text.sound_of(o.cls) for o in sounding])}: {answer} sound" + (
                "s." if len(sounding) != 1 else "."
            )
        elif qtype == "Visual-Counting":
            shape = clip.choice([o.shape for o in scene.onscreen]) if rng.random() < 0.5 else None
            if shape is None:
                question, count = "How many objects are in the video?", len(scene.onscreen)
            else:
                question = f"How many {text.plural(shape)} are in the video?"
                count = sum(o.shape == shape for o in scene.onscreen)
            answer = NUMBER_WORDS[count]
            why = f"I see {text.join([text.a(o.cls) for o in scene.onscreen if shape in (None, o.shape)])}."
        elif qtype == "Visual-Location":
            o = clip.choice(scene.onscreen)
            question, answer = f"Where is the {o.cls}?", _pos(o)
            why = f"The {o.cls} is on the {answer}." if answer != "middle" else f"The {o.cls} is in the middle."
        elif qtype == "Audio-Visual-Existential":
            o = clip.choice(scene.onscreen)
            question, answer = f"Is the {o.cls} making a sound?", "yes" if o.sounding else "no"
            why = f"The {o.cls} {'makes ' + text.sound_of(o.cls) if o.sounding else 'is silent'}."
        elif qtype == "Audio-Visual-Counting":
            question = "How many objects in the video are making sounds?"
            answer = NUMBER_WORDS[len(onscreen_sounding)]
            why = (
                f"The visible objects making sounds are {text.join([text.the(o.cls) for o in onscreen_sounding])}."
                if onscreen_sounding
                else "None of the visible objects makes a sound."
            )
        else:  # Audio-Visual-Location
            o = clip.choice(onscreen_sounding)
            question, answer = f"Where is the object making the {text.sound_of(o.cls)[2:]}?", _pos(o)
            why = f"The {text.sound_of(o.cls)[2:]} comes from the {o.cls}, which is {text.at(o.x)}."
    short = why
    full = _describe(scene, d) + " " + why
    meta = clip.base_meta(d, scene.to_json())
    meta.update({"question": question, "question_type": qtype})
    video, _ = write_video(clip, scene)
    return clip.record(Media(video=video), Answer(text=answer), Reasoning(short, full), meta, question=question)


def _options(clip: Clip, right: str, wrong: list[str]) -> tuple[list[str], int]:
    """Four options: ``right`` and three of ``wrong`` (deduplicated), shuffled; (options, index)."""
    pool = [w for w in dict.fromkeys(wrong) if w != right]
    options = [right] + clip.sample(pool, 3)
    order = clip.rng.permutation(4)
    options = [options[i] for i in order]
    return options, options.index(right)


def build_avqa_thu(clip: Clip) -> Record:
    d, rng = clip.cfg.clip_seconds, clip.rng
    qtype = clip.balanced(list(THU_TYPES))
    vocab = list(vocabulary(clip.dataset))
    n = int(rng.integers(2, 4))
    if qtype == "Which":
        scene = slot_scene(clip, n, [random_range(rng, d, min_len=3)] + [None] * (n - 1), [None] * n)
        src = scene.onscreen[0]
        question = "Which object is making the sound?"
        options, choice = _options(clip, src.cls, [o.cls for o in scene.onscreen] + clip.sample(vocab, 5))
        why = f"The {text.sound_of(src.cls)[2:]} comes from the {src.cls}."
    elif qtype == "Come From":
        off = rng.random() < 0.25
        scene = slot_scene(
            clip,
            n,
            [None if off else random_range(rng, d, min_len=3)] + [None] * (n - 1),
            [None] * n,
            random_range(rng, d, min_len=3) if off else None,
        )
        src = scene.objects[-1] if off else scene.onscreen[0]
        question = f"Where does the {text.sound_of(src.cls)[2:]} come from?"
        right = "off screen" if off else f"the {_pos(src)}"
        options, choice = _options(clip, right, ["the left", "the middle", "the right", "off screen"])
        why = (
            "No visible object makes it, so it comes from off screen."
            if off
            else f"It comes from the {src.cls} {text.at(src.x)}."
        )
    elif qtype == "Happening":
        scene = slot_scene(clip, n, [None] * n, [None] * n)
        o = clip.choice(scene.onscreen)
        words = {m: ("staying still" if m == "still" else MOTIONS[m]) for m in SLOT_MOTIONS}
        question = f"What is the {o.cls} doing?"
        options, choice = _options(clip, words[o.motion], list(words.values()))
        why = f"The {o.cls} is {words[o.motion]}."
    elif qtype == "Where":
        scene = slot_scene(clip, n, [None] * n, [None] * n)
        absent = rng.random() < 0.25
        cls = (
            clip.choice([c for c in vocab if c not in {o.cls for o in scene.onscreen}])
            if absent
            else clip.choice(scene.onscreen).cls
        )
        obj = next((o for o in scene.onscreen if o.cls == cls), None)
        question = f"Where is the {cls}?"
        right = "not in the video" if obj is None else text.at(obj.x)
        options, choice = _options(clip, right, ["on the left", "in the middle", "on the right", "not in the video"])
        why = f"There is no {cls}." if obj is None else f"The {cls} is {right}."
    elif qtype == "When":
        third = d // 3
        when = clip.choice(["at the beginning", "in the middle", "at the end", "throughout the video"])
        span = {
            "at the beginning": (0, third),
            "in the middle": (third, d - third),
            "at the end": (d - third, d),
            "throughout the video": (0, d),
        }[when]
        scene = slot_scene(clip, n, [span] + [None] * (n - 1), [None] * n)
        src = scene.onscreen[0]
        question = f"When is the {text.sound_of(src.cls)[2:]} heard?"
        options, choice = _options(
            clip, when, ["at the beginning", "in the middle", "at the end", "throughout the video"]
        )
        why = f"It sounds {text.span(*span, d)}, that is {when}."
    else:  # Before Next: sounds one after another
        cuts = sorted(clip.sample(list(range(2, d - 1) if d >= 6 else range(1, d)), 2))  # each sound >= 2 s if possible
        spans = [(0, cuts[0]), (cuts[0], cuts[1]), (cuts[1], d)][:n]
        scene = slot_scene(clip, n, spans, [None] * n)
        seq = sorted(scene.onscreen, key=lambda o: o.sounding[0][0])
        i = int(rng.integers(0, len(seq) - 1))
        question = f"What sounds right after the {seq[i].cls}?"
        options, choice = _options(clip, seq[i + 1].cls, [o.cls for o in seq] + clip.sample(vocab, 5))
        why = f"The {seq[i + 1].cls} starts when the {seq[i].cls} stops."
    meta = clip.base_meta(d, scene.to_json())
    meta.update({"question": question, "question_type": qtype, "question_relation": THU_TYPES[qtype]})
    video, _ = write_video(clip, scene)
    full = _describe(scene, d) + " " + why
    return clip.record(
        Media(video=video), Answer(choice=choice, options=options), Reasoning(why, full), meta, question=question
    )
