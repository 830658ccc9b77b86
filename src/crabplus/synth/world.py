"""The AVSynth world: what can be seen and heard, as fixed constants shared by all mirror datasets.

One world for every dataset, so that tasks can help or hurt each other as real ones do:

- **Sounding objects.** A class is a colour x a shape (6 x 5 = 30 classes, named e.g. ``"red circle"``).
  The colour sets the pitch (fundamental frequency) and the shape sets the timbre and rhythm, so the
  sound of a class is learnable from its two visual attributes and "which of two visible objects is
  sounding" needs both modalities. The fundamentals were chosen so that no harmonic (up to the 3rd,
  the most any timbre uses) lies within 6 % of another class's fundamental, and adjacent ones are
  >= 1.59x apart: clearly separate rows of a 128-bin log-mel.
- **Motions** define action classes (``"bouncing circle"``); each is a smooth function of time whose
  period is not a whole second, so frames sampled once per second still show it.
- **Faces and voices** (emotion datasets): eight canonical emotions, each with a drawn expression and
  a voice prosody. Three pairs share a face and differ only in the voice (sad/worried,
  angry/disgusted, surprised/fearful); happy and surprised have similar voices but different faces.
- Each dataset uses a fixed window of 8 classes (its vocabulary), overlapping its neighbours'; which window,
  and each emotion dataset's words for the emotions, are per-dataset tables in ``synth/datasets/vocab.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: colour -> (RGB, fundamental frequency in Hz, pitch word). Ascending pitch follows the hue order.
COLOURS: dict[str, tuple[tuple[int, int, int], float, str]] = {
    "red": ((225, 35, 35), 200.0, "deep"),
    "yellow": ((235, 215, 30), 336.0, "low"),
    "green": ((40, 190, 60), 534.0, "mid"),
    "cyan": ((40, 205, 215), 848.0, "high"),
    "blue": ((55, 85, 245), 1425.0, "shrill"),
    "magenta": ((220, 55, 215), 2263.0, "piercing"),
}


@dataclass(frozen=True)
class Timbre:
    """How a shape sounds: harmonic amplitudes (1st, 2nd, 3rd), an on/off rhythm, a vibrato."""

    word: str  # the verb/noun used in text: "hum", "buzz", ...
    verb: str  # third person: "hums", "buzzes", ...
    harmonics: tuple[float, float, float]
    pulses_per_second: int = 0  # 0 = continuous; else on for ``duty`` of each pulse period
    duty: float = 1.0
    vibrato_hz: float = 0.0
    vibrato_depth: float = 0.0  # fraction of f0


SHAPES: dict[str, Timbre] = {
    "circle": Timbre("hum", "hums", (1.0, 0.0, 0.0)),
    "square": Timbre("buzz", "buzzes", (1.0, 0.0, 0.45)),
    "triangle": Timbre("beep", "beeps", (1.0, 0.5, 0.33), pulses_per_second=2, duty=0.6),
    "diamond": Timbre("warble", "warbles", (1.0, 0.2, 0.0), vibrato_hz=5.0, vibrato_depth=0.02),
    "cross": Timbre("tick", "ticks", (1.0, 0.6, 0.0), pulses_per_second=4, duty=0.5),
}

COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
SHAPE_NAMES: tuple[str, ...] = tuple(SHAPES)


def class_name(colour: str, shape: str) -> str:
    return f"{colour} {shape}"


def split_class(name: str) -> tuple[str, str]:
    """``"red circle"`` -> ``("red", "circle")``; an unknown class is an error naming it."""
    parts = name.split(" ")
    if len(parts) != 2 or parts[0] not in COLOURS or parts[1] not in SHAPES:
        raise KeyError(f"not an AVSynth object class: {name!r}")
    return parts[0], parts[1]


def class_rgb(name: str) -> tuple[int, int, int]:
    return COLOURS[split_class(name)[0]][0]


def class_f0(name: str) -> float:
    return COLOURS[split_class(name)[0]][1]


def _class_order() -> list[str]:
    """All 30 classes in an order whose every window of 8 mixes colours and shapes.

    Class k has colour k mod 6 and shape (k + k // 6) mod 5; over k = 0..29 this hits every
    (colour, shape) pair exactly once (for a fixed colour, k // 6 takes 5 values giving 5 shapes).
    """
    out = []
    for k in range(len(COLOURS) * len(SHAPES)):
        out.append(class_name(COLOUR_NAMES[k % 6], SHAPE_NAMES[(k + k // 6) % 5]))
    return out


ALL_CLASSES: tuple[str, ...] = tuple(_class_order())

# ---------------------------------------------------------------------------------------------
# motions and actions
# ---------------------------------------------------------------------------------------------

#: motion -> gerund. "still" is the absence of motion (distractors, image tasks).
MOTIONS: dict[str, str] = {
    "still": "still",
    "bounce": "bouncing",
    "slide": "sliding",
    "spin": "spinning",
    "grow": "growing",
    "orbit": "orbiting",
    "shake": "shaking",
    "zigzag": "zigzagging",
    "fall": "falling",
}

#: Kinetics-Sounds-like actions: a motion of a shape. The actor is the sounding object, and a silent
#: distractor may perform another action, so telling which one acts needs the sound.
KS_ACTIONS: tuple[tuple[str, str], ...] = (
    ("bounce", "circle"),
    ("bounce", "square"),
    ("slide", "triangle"),
    ("slide", "diamond"),
    ("spin", "square"),
    ("spin", "cross"),
    ("grow", "circle"),
    ("orbit", "triangle"),
)

#: UCF101-like actions: the motion alone (a visual task; the sound carries no label information).
UCF_MOTIONS: tuple[str, ...] = ("bounce", "slide", "spin", "grow", "orbit", "shake", "zigzag", "fall")


def ks_label(motion: str, shape: str) -> str:
    return f"{MOTIONS[motion]} {shape}"


# ---------------------------------------------------------------------------------------------
# faces and voices
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Face:
    """A drawn expression. ``brow_tilt`` > 0 raises the inner ends (sad), < 0 lowers them (angry);
    ``mouth_curve`` > 0 smiles; ``mouth_open`` is the resting opening; ``eye_open`` the eye height."""

    words: str  # what the reasoning says it sees
    brow_raise: float
    brow_tilt: float
    mouth_curve: float
    mouth_open: float
    eye_open: float


@dataclass(frozen=True)
class Voice:
    """A prosody: pitch relative to the speaker, contour, loudness, syllables per second, vibrato,
    brightness (weight of high harmonics)."""

    words: str  # what the reasoning says it hears
    pitch: float
    contour: str  # flat | rise | fall | arch | wobble
    loudness: float
    rate: float
    vibrato: float
    bright: float


_FACE_SAD = Face("raised inner brows and a downturned mouth", 0.0, 1.0, -0.6, 0.0, 1.0)
_FACE_ANGRY = Face("lowered, pinched brows, narrowed eyes and a tight mouth", -0.2, -1.0, -0.15, 0.0, 0.55)
_FACE_SURPRISED = Face("high brows, wide eyes and an open mouth", 1.0, 0.0, 0.0, 0.8, 1.4)

#: canonical emotion -> (face, voice)
EMOTIONS: dict[str, tuple[Face, Voice]] = {
    "neutral": (
        Face("level brows and a straight mouth", 0.0, 0.0, 0.0, 0.0, 1.0),
        Voice("a calm, even voice", 1.0, "flat", 0.45, 3.0, 0.0, 0.3),
    ),
    "happy": (
        Face("a wide smile", 0.3, 0.0, 1.0, 0.15, 1.0),
        Voice("a bright, lilting voice", 1.35, "arch", 0.65, 4.0, 0.0, 0.4),
    ),
    "sad": (_FACE_SAD, Voice("a slow, low, falling voice", 0.8, "fall", 0.3, 2.0, 0.0, 0.2)),
    "worried": (_FACE_SAD, Voice("a quick, wavering voice", 1.1, "wobble", 0.45, 5.0, 0.0, 0.3)),
    "angry": (_FACE_ANGRY, Voice("a loud, fast, harsh voice", 1.25, "flat", 0.95, 5.0, 0.0, 0.9)),
    "disgusted": (_FACE_ANGRY, Voice("a slow, low, drawn-out voice", 0.85, "fall", 0.45, 1.5, 0.0, 0.3)),
    "surprised": (_FACE_SURPRISED, Voice("a sharply rising voice", 1.4, "rise", 0.7, 3.0, 0.0, 0.4)),
    "fearful": (_FACE_SURPRISED, Voice("a trembling voice", 1.3, "flat", 0.5, 6.0, 0.06, 0.4)),
}


#: skin tones for faces (RGB)
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (241, 194, 160),
    (224, 172, 125),
    (198, 134, 94),
    (141, 85, 54),
    (255, 219, 190),
)

#: number words for counting answers (MUSIC-AVQA answers counts as words)
NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six")
