"""Words for scenes: names, sounds, places and times, shared by reasoning chains, questions, captions.

Reasoning chains follow the AV-UIE v2 pattern — what is seen, what is heard, when, hence the answer —
and are written from the scene graph (exact ground truth), never from a model.
"""

from __future__ import annotations

from crabplus.synth.scene import SceneObject
from crabplus.synth.world import COLOURS, MOTIONS, SHAPES, split_class


def the(cls: str) -> str:
    return f"the {cls}"


def a(cls: str) -> str:
    return f"a {cls}"


def sound_of(cls: str) -> str:
    """``"red circle"`` -> ``"a deep hum"``: what the class sounds like, in words."""
    colour, shape = split_class(cls)
    return f"a {COLOURS[colour][2]} {SHAPES[shape].word}"


def verb_of(cls: str) -> str:
    """``"red square"`` -> ``"buzzes"``."""
    return SHAPES[split_class(cls)[1]].verb


def where(x: float) -> str:
    """left / middle / right thirds of the frame."""
    return "left" if x < 1 / 3 else "right" if x > 2 / 3 else "middle"


def at(x: float) -> str:
    """``"on the left"`` / ``"in the middle"`` / ``"on the right"``."""
    third = where(x)
    return "in the middle" if third == "middle" else f"on the {third}"


def span(start: int, end: int, duration: int) -> str:
    """``"throughout"`` for the whole clip, else ``"from second 2 to 6"`` (end exclusive)."""
    if start == 0 and end >= duration:
        return "throughout"
    return f"from second {start} to {end}"


def spans(ranges: list[tuple[int, int]], duration: int) -> str:
    return join([span(s, e, duration) for s, e in ranges])


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")


def join(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = list(items)
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def seen(obj: SceneObject, with_place: bool = True) -> str:
    """``"a red circle bouncing on the left"`` (or ``"still"`` objects just placed)."""
    words = a(obj.cls)
    if obj.motion != "still":
        words += f" {MOTIONS[obj.motion]}"
    if with_place:
        words += " " + at(obj.x)
    return words


def heard(obj: SceneObject, duration: int, with_source: bool = True) -> str:
    """``"a deep hum from second 2 to 6 (the red circle)"``; an off-screen sound names the class
    its pitch and timbre belong to: ``"(a red circle, off screen)"``."""
    text = f"{sound_of(obj.cls)} {spans(obj.sounding, duration)}"
    if with_source:
        text += f" ({the(obj.cls)})" if obj.onscreen else f" ({a(obj.cls)}, off screen)"
    return text


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def sentence(text: str) -> str:
    """Capitalise the first letter and end with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."
