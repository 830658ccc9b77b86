"""Perception-dense questions of the corpus: short answers whose first words are what is seen or heard.

Why: in a long description only a few words need the media (the first face word; every later word follows
from the words before it), so a model can reach a low loss while guessing. Here the answer *is* the
perceived attribute ("Cheerful.", "Upper left.", "The second."), so the loss is mostly perception, and each
question carries a ``probe`` — the attribute it asks, the expected lead words and how many values the
attribute can take — from which held-out greedy answers are scored per attribute beside chance
(:mod:`crabplus.evaluate.perception`). Where both are asked, the audible comes before the visual.

Attributes (values): ``mood`` (8), ``voice`` (8), ``face`` (5), ``speaker`` (2: high or low), ``sound``
(30: pitch word + timbre word), ``colour`` (6), ``shape`` (5), ``position`` (9 ninths), ``quadrant`` (4),
``count`` (3), ``motion`` (9), ``binding`` (which of the visible shapes sounds: as many values as shapes in
view), ``timing`` (the seconds a sound starts and stops), ``matching`` (2: which clip makes the sound / which
track belongs), ``order`` (30, asked only in a corpus made with ``order``: what the first or the second of two
clips or tracks joined in time holds — the matching layouts join their two candidates into one stream, and a
base that cannot tell the halves apart names one shape or sound for both). The wording is the corpus's own; none
is an instruction or label set of the 19 datasets.
"""

from __future__ import annotations

from dataclasses import dataclass

from crabplus.synth import pretrain_text as pt
from crabplus.synth.scene import SceneObject
from crabplus.synth.text import capital
from crabplus.synth.world import COLOUR_NAMES, MOTIONS, SHAPE_NAMES

#: attribute -> number of values it can take (None: depends on the clip, stored per question)
ATTRIBUTE_VALUES: dict[str, int | None] = {
    "mood": 8,
    "voice": 8,
    "face": 5,
    "speaker": 2,
    "sound": len(COLOUR_NAMES) * len(SHAPE_NAMES),
    "colour": len(COLOUR_NAMES),
    "shape": len(SHAPE_NAMES),
    "position": 9,
    "quadrant": 4,
    "count": 3,
    "motion": len(MOTIONS),
    "binding": None,
    "timing": None,
    "matching": 2,
    "order": len(COLOUR_NAMES) * len(SHAPE_NAMES),
}
ORDINAL = ("first", "second")
NUMBER = ("no", "one", "two", "three", "four")


@dataclass(frozen=True)
class Ask:
    """One question of a clip: the answer's leading ``expected`` words are the perceived value of
    ``attribute``, which can take ``values`` values (chance of a uniform guess: 1 / values)."""

    question: str
    answer: str
    attribute: str
    expected: str
    values: int

    def probe(self) -> dict:
        return {"attribute": self.attribute, "expected": self.expected, "values": self.values}


def ask(question: str, answer: str, attribute: str, expected: str, values: int | None = None) -> Ask:
    n = ATTRIBUTE_VALUES[attribute] if values is None else values
    return Ask(question, answer, attribute, expected.lower(), n)


def quadrant(x: float, y: float) -> str:
    return f"{'top' if y < 0.5 else 'bottom'} {'left' if x < 0.5 else 'right'}"


def motion_word(obj: SceneObject) -> str:
    return "not moving" if obj.motion == "still" else MOTIONS[obj.motion]


# ---- faces -----------------------------------------------------------------------------------------------


def face_asks(face: str, voice: str, mood: str, high: bool) -> list[Ask]:
    pitch = "high" if high else "low"
    return [
        ask("What mood does this person seem to be in? One word, please.", f"{capital(mood)}.", "mood", mood),
        ask("How does the voice sound? Keep it short.", f"{capital(voice)}.", "voice", voice),
        ask("What does the face show? Keep it short.", f"{capital(face)}.", "face", face),
        ask("Is the speaker's voice high or low?", f"{capital(pitch)}.", "speaker", pitch),
    ]


# ---- stills: one moment --------------------------------------------------------------------------------


def still_asks(objects: list[SceneObject], now: list[SceneObject]) -> list[Ask]:
    """``objects``: the scene's objects; ``now``: those sounding at the still's moment."""
    seen = [o for o in objects if o.onscreen]
    out: list[Ask] = []
    if len(now) == 1:
        heard = pt.sound(now[0].cls)
        out.append(ask("What do you hear at this moment? Just the sound, please.", f"A {heard}.", "sound", heard))
    elif not now:
        out.append(
            ask(
                "What do you hear at this moment? Just the sound, please.",
                "Only a faint hiss.",
                "sound",
                "only a faint hiss",
            )
        )
    on_now = [o for o in now if o.onscreen]
    if len(seen) >= 2 and len(now) == 1 and len(on_now) == 1:
        out.append(
            ask(
                "Which of the shapes in view is making the sound right now?",
                f"The {on_now[0].cls}, {pt.ninth(on_now[0].x, on_now[0].y)}.",
                "binding",
                on_now[0].cls,
                len(seen),
            )
        )
    out.append(ask("How many shapes can you see?", f"{capital(NUMBER[len(seen)])}.", "count", NUMBER[len(seen)]))
    for o in seen:
        colours = [p for p in seen if p.shape == o.shape]
        shapes = [p for p in seen if p.colour == o.colour]
        if len(colours) == 1:
            out.append(ask(f"What colour is the {o.shape}?", f"{capital(o.colour)}.", "colour", o.colour))
        if len(shapes) == 1:
            out.append(ask(f"What shape is the {o.colour} one?", f"{capital(o.shape)}.", "shape", o.shape))
        out.append(
            ask(
                f"Where is the {o.cls}? Say which part of the picture.",
                f"{capital(pt.ninth(o.x, o.y))}.",
                "position",
                pt.ninth(o.x, o.y),
            )
        )
        out.append(
            ask(
                f"Is the {o.cls} in the top or bottom half, and on the left or the right?",
                f"{capital(quadrant(o.x, o.y))}.",
                "quadrant",
                quadrant(o.x, o.y),
            )
        )
    return out


# ---- scenes: 10 s of motion and sound -------------------------------------------------------------------


def scene_asks(objects: list[SceneObject], duration: int) -> list[Ask]:
    seen = [o for o in objects if o.onscreen]
    loud = [o for o in objects if o.sounding]
    out: list[Ask] = []
    if len(loud) == 1:
        heard = pt.sound(loud[0].cls)
        out.append(ask("What sound do you hear? Just the sound, please.", f"A {heard}.", "sound", heard))
    makers = [o for o in seen if o.sounding]
    if len(seen) >= 2 and len(makers) == 1 and len(loud) == 1:
        out.append(
            ask("Which shape in view makes the noise?", f"The {makers[0].cls}.", "binding", makers[0].cls, len(seen))
        )
    for o in loud:
        if len(o.sounding) == 1 and [p.cls for p in loud].count(o.cls) == 1:
            a, b = o.sounding[0]
            values = duration * (duration + 1) // 2  # every (start, end) with start < end
            out.append(
                ask(
                    f"When does the {pt.sound(o.cls)} start and stop?",
                    f"From {a} s to {b} s.",
                    "timing",
                    f"from {a} s to {b} s",
                    values,
                )
            )
    for o in seen:
        out.append(
            ask(
                f"How does the {o.cls} move? One word, please.", f"{capital(motion_word(o))}.", "motion", motion_word(o)
            )
        )
    out.append(ask("How many shapes are in view?", f"{capital(NUMBER[len(seen)])}.", "count", NUMBER[len(seen)]))
    return out


# ---- the two matching layouts ----------------------------------------------------------------------------


def pair_asks(heard: str, right: int) -> list[Ask]:
    """One sound, two clips; the ``right`` (0/1) clip makes it."""
    return [
        ask(
            "Which clip makes the sound you hear, the first or the second?",
            f"The {ORDINAL[right]}.",
            "matching",
            f"the {ORDINAL[right]}",
        ),
        ask("What sound do you hear? Just the sound, please.", f"A {pt.sound(heard)}.", "sound", pt.sound(heard)),
    ]


def pair_order_asks(shown: tuple[str, str]) -> list[Ask]:
    """One sound, two clips (``shown``: the shape in each): what each clip holds, one at a time."""
    return [
        ask(f"What is in the {ORDINAL[k]} clip? Just the shape, please.", f"A {cls}.", "order", cls)
        for k, cls in enumerate(shown)
    ]


def sounds_order_asks(heard: tuple[str, str]) -> list[Ask]:
    """One clip, two tracks (``heard``: the shape whose sound each track is): what each track is, one at a time."""
    return [
        ask(
            f"What do you hear on the {ORDINAL[k]} track? Just the sound, please.",
            f"A {pt.sound(cls)}.",
            "order",
            pt.sound(cls),
        )
        for k, cls in enumerate(heard)
    ]


def sounds_asks(seen: str, right: int) -> list[Ask]:
    """One clip, two tracks; the ``right`` (0/1) track belongs to it."""
    return [
        ask(
            "Which sound track belongs to this clip, the first or the second?",
            f"The {ORDINAL[right]}.",
            "matching",
            f"the {ORDINAL[right]}",
        ),
    ]
