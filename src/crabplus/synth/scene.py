"""The scene graph: objects with a class, a place, a motion, and whole-second visible/sounding ranges.

Positions and sizes are fractions of the frame side, so one scene renders at any image size. Times
are whole seconds, ``end`` exclusive, as in the records. A scene is the single source of truth from
which the frames, the sound track, the answers and the reasoning chains are all derived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from crabplus.synth.world import split_class

Range = tuple[int, int]

#: how far (fraction of the frame) each motion moves the centre from its base, (x, y)
_REACH = {
    "still": (0.0, 0.0),
    "bounce": (0.0, 0.22),
    "slide": (0.28, 0.0),
    "spin": (0.0, 0.0),
    "grow": (0.0, 0.0),
    "orbit": (0.18, 0.18),
    "shake": (0.08, 0.08),
    "zigzag": (0.24, 0.2),
    "fall": (0.0, 0.24),
}
#: the largest size factor a motion reaches
_GROW = 0.4


@dataclass
class SceneObject:
    """One thing in the scene. ``onscreen`` False is an off-screen sound (heard, never seen)."""

    cls: str  # object class, e.g. "red circle"
    x: float = 0.5  # base centre, fraction of the width
    y: float = 0.5
    size: float = 0.3  # circumscribed diameter, fraction of the side
    motion: str = "still"
    phase: float = 0.0  # seconds added to t in the motion, so two objects do not move in step
    visible: list[Range] = field(default_factory=list)
    sounding: list[Range] = field(default_factory=list)
    loudness: float = 0.2  # peak amplitude of its sound (full scale 1.0)
    onscreen: bool = True

    @property
    def colour(self) -> str:
        return split_class(self.cls)[0]

    @property
    def shape(self) -> str:
        return split_class(self.cls)[1]

    def visible_at(self, t: float) -> bool:
        return self.onscreen and any(a <= t < b for a, b in self.visible)

    def sounding_at(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.sounding)

    def state(self, t: float) -> tuple[float, float, float, float]:
        """(cx, cy, size, angle in degrees) at time ``t`` seconds, fractions of the frame."""
        dx, dy, scale, angle = motion_offset(self.motion, t + self.phase)
        return self.x + dx, self.y + dy, self.size * scale, angle

    def to_json(self) -> dict:
        out = {
            "class": self.cls,
            "onscreen": self.onscreen,
            "sounding": [list(r) for r in self.sounding],
            "loudness": round(self.loudness, 4),
        }
        if self.onscreen:
            out.update(
                {
                    "x": round(self.x, 4),
                    "y": round(self.y, 4),
                    "size": round(self.size, 4),
                    "motion": self.motion,
                    "visible": [list(r) for r in self.visible],
                }
            )
        return out


@dataclass
class Scene:
    """Everything in one clip: objects (drawn in list order, later ones on top), the background's two
    gradient colours, the background noise amplitude and the clip length."""

    objects: list[SceneObject]
    duration: int
    background: tuple[tuple[int, int, int], tuple[int, int, int]] = ((20, 20, 28), (45, 45, 55))
    noise: float = 0.01

    @property
    def onscreen(self) -> list[SceneObject]:
        return [o for o in self.objects if o.onscreen]

    def to_json(self) -> dict:
        return {
            "duration": self.duration,
            "noise": round(self.noise, 4),
            "objects": [o.to_json() for o in self.objects],
        }


def _tri(u: float) -> float:
    """A triangle wave of period 1 in [-1, 1]."""
    f = u - math.floor(u)
    return 4 * abs(f - 0.5) - 1


def motion_offset(motion: str, t: float) -> tuple[float, float, float, float]:
    """(dx, dy, scale, angle) of a motion at time ``t``. Periods are not whole seconds, so frames
    sampled once per second still differ from one another."""
    rx, ry = _REACH[motion]
    if motion == "still":
        return 0.0, 0.0, 1.0, 0.0
    if motion == "bounce":
        return 0.0, ry * (1 - 2 * abs(math.sin(math.pi * t / 1.7))), 1.0, 0.0
    if motion == "slide":
        return rx * _tri(t / 6.0), 0.0, 1.0, 0.0
    if motion == "spin":
        return 0.0, 0.0, 1.0, 50.0 * t
    if motion == "grow":
        return 0.0, 0.0, 1.0 + _GROW * math.sin(2 * math.pi * t / 3.3), 0.0
    if motion == "orbit":
        a = 2 * math.pi * t / 4.3
        return rx * math.cos(a), ry * math.sin(a), 1.0, 0.0
    if motion == "shake":
        return (
            rx * math.sin(2 * math.pi * 3.7 * t) * math.cos(2 * math.pi * 1.3 * t),
            ry * math.sin(2 * math.pi * 2.9 * t + 1.0),
            1.0,
            0.0,
        )
    if motion == "zigzag":
        return rx * _tri(t / 5.0), ry * _tri(t / 1.5), 1.0, 0.0
    if motion == "fall":
        return 0.0, ry * (2 * ((t / 2.5) % 1.0) - 1), 1.0, 0.0
    raise KeyError(f"unknown motion {motion!r}")


def reach(motion: str, size: float) -> tuple[float, float]:
    """Half-extent (x, y) the object can occupy around its base centre: motion reach + radius."""
    rx, ry = _REACH[motion]
    r = size / 2 * (1 + _GROW if motion == "grow" else 1.0)
    return rx + r, ry + r


def place(rng: np.random.Generator, motion: str, size: float, margin: float = 0.02) -> tuple[float, float]:
    """A random base centre that keeps the object inside the frame during its whole motion."""
    hx, hy = reach(motion, size)
    lo_x, hi_x = hx + margin, 1 - hx - margin
    lo_y, hi_y = hy + margin, 1 - hy - margin
    if lo_x > hi_x or lo_y > hi_y:
        raise ValueError(f"object of size {size} with motion {motion!r} does not fit in the frame")
    return float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y))


def place_apart(
    rng: np.random.Generator, sizes: list[float], gap: float = 0.04, tries: int = 200
) -> list[tuple[float, float]]:
    """Base centres for still objects that do not overlap (circumscribed circles ``gap`` apart).

    Random sequential placement; when it keeps failing (4 large objects), ``sizes`` is shrunk in
    place by 10 % and placement starts again, so a crowded scene gets smaller objects, not an error.
    """
    for _ in range(8):
        for _ in range(tries):
            centres: list[tuple[float, float]] = []
            for s in sizes:
                cx, cy = place(rng, "still", s)
                if not all(math.hypot(cx - px, cy - py) >= (s + ps) / 2 + gap for (px, py), ps in zip(centres, sizes)):
                    break
                centres.append((cx, cy))
            if len(centres) == len(sizes):
                return centres
        sizes[:] = [s * 0.9 for s in sizes]
    raise ValueError(f"cannot place {len(sizes)} objects of sizes {sizes} apart")


def random_range(rng: np.random.Generator, duration: int, min_len: int = 1, max_len: int | None = None) -> Range:
    """A whole-second range [start, end) inside [0, duration) of length in [min_len, max_len]."""
    max_len = duration if max_len is None else min(max_len, duration)
    length = int(rng.integers(min_len, max_len + 1))
    start = int(rng.integers(0, duration - length + 1))
    return start, start + length


def merge(ranges: list[Range]) -> list[Range]:
    """Union of whole-second ranges as sorted maximal runs (touching ranges join)."""
    out: list[list[int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]
