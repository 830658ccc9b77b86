"""The perception corpus's wording: plain questions and plain-sentence answers about a scene.

Deliberately unlike every instruction template and tagged answer of the 19 mirror datasets (no "Please ...",
no ``<answer>``/``<event>`` tags, no ``[x1,y1,x2,y2]`` boxes, no "I see ... I hear ..." chains): the base
stage learns to *perceive* — name objects, colours, motions, sounds, faces and voices, say where things are
and when sounds start and stop — and the adapters later learn each task's instruction and answer format.

Places are given in words (``upper left``) and in plain numbers on the same 224-pixel scale the boxes of the
segmentation tasks use, written differently: ``x 20 to 80, y 31 to 92, centre (50, 61)``.
"""

from __future__ import annotations

from crabplus.synth.scene import SceneObject
from crabplus.synth.text import capital, join, sound_of
from crabplus.synth.world import MOTIONS

#: how each motion looks, besides its name
MOTION_LOOKS = {
    "still": "stays put",
    "bounce": "hops up and down",
    "slide": "glides from side to side",
    "spin": "turns round on the spot",
    "grow": "swells and shrinks",
    "orbit": "circles round a point",
    "shake": "jitters in place",
    "zigzag": "goes back and forth in a zigzag",
    "fall": "drops from the top again and again",
}

#: canonical emotion -> (face, voice, mood): words of this corpus only (none is a label of an emotion dataset)
FACE_VOICE_MOOD = {
    "neutral": ("brows level and the mouth flat", "steady and even", "calm"),
    "happy": ("a broad smile", "bright and sing-song", "cheerful"),
    "sad": ("the inner ends of the brows lifted and the mouth corners down", "slow, low and sinking", "down"),
    "worried": ("the inner ends of the brows lifted and the mouth corners down", "quick and shaky in pitch", "uneasy"),
    "angry": ("brows drawn low and together, narrow eyes and pressed lips", "loud, quick and rough", "furious"),
    "disgusted": (
        "brows drawn low and together, narrow eyes and pressed lips",
        "slow, low and dragged out",
        "repelled",
    ),
    "surprised": ("brows up high, wide eyes and the mouth open in an O", "jumping up in pitch", "startled"),
    "fearful": ("brows up high, wide eyes and the mouth open in an O", "trembling", "scared"),
}


def ninth(x: float, y: float) -> str:
    """``"upper left"``, ``"left"``, ``"top"``, ``"centre"``, ...: the ninth of the frame a point is in."""
    col = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
    row = "upper" if y < 1 / 3 else "lower" if y > 2 / 3 else ""
    if row and col:
        return f"{row} {col}"
    return col or {"upper": "top", "lower": "bottom", "": "centre"}[row]


#: how a ninth is said in a sentence (the corners take "in the")
_IN_A_SENTENCE = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "centre": "in the centre",
}


def region(x: float, y: float) -> str:
    """``"in the upper left"``, ``"on the left"``, ``"at the top"``, ``"in the centre"``, ...: the ninth of the
    frame a point is in, in a sentence."""
    place = ninth(x, y)
    return _IN_A_SENTENCE.get(place, f"in the {place}")


def extent(box: list[int], centre: list[int]) -> str:
    """``"x 20 to 80, y 31 to 92, centre (50, 61)"`` (224-pixel scale)."""
    x1, y1, x2, y2 = box
    return f"x {x1} to {x2}, y {y1} to {y2}, centre ({centre[0]}, {centre[1]})"


def motion_words(obj: SceneObject) -> str:
    """``"bouncing (it hops up and down)"`` / ``"not moving"``."""
    if obj.motion == "still":
        return "not moving"
    return f"{MOTIONS[obj.motion]} (it {MOTION_LOOKS[obj.motion]})"


def when(ranges: list[tuple[int, int]], duration: int) -> str:
    """``"on at 2 s, off at 7 s"`` per run; ``"the whole time"`` for the whole clip."""
    if len(ranges) == 1 and ranges[0][0] == 0 and ranges[0][1] >= duration:
        return "the whole time"
    return join([f"on at {a} s, off at {b} s" for a, b in ranges])


def sound(cls: str) -> str:
    """``"deep hum"``: the sound of a class, without the article."""
    return sound_of(cls)[2:]


def count(n: int, noun: str) -> str:
    words = ("no", "one", "two", "three", "four", "five", "six")
    return f"{words[n]} {noun}{'' if n == 1 else 's'}"


def listing(items: list[str]) -> str:
    """Sentences from clauses: ``"A. B."``."""
    return " ".join(capital(s).rstrip(".") + "." for s in items)


#: how each motion is said with a verb (third person), in sentences that sum a clip up
MOTION_VERBS = {
    "still": "stays still",
    "bounce": "bounces",
    "slide": "slides to and fro",
    "spin": "spins",
    "grow": "grows and shrinks",
    "orbit": "circles round",
    "shake": "shakes",
    "zigzag": "zigzags",
    "fall": "keeps falling",
}


def sum_up(seen: list[SceneObject], loud: list[SceneObject]) -> str:
    """One plain sentence: each shape in view with what it does and whether it sounds."""
    from crabplus.synth.world import SHAPES, split_class

    def one(o: SceneObject) -> str:
        verb = SHAPES[split_class(o.cls)[1]].verb
        noise = f" and {verb}" if o.sounding else ", making no sound"
        return f"the {o.cls} {MOTION_VERBS[o.motion]}{noise}"

    parts = [one(o) for o in seen]
    off = [o for o in loud if not o.onscreen]
    if off:
        parts.append(f"something off screen {SHAPES[split_class(off[0].cls)[1]].verb}")
    return capital(join(parts)) + "." if parts else "Nothing is in view."
