"""The 224-pixel coordinate space of boxes, points and masks, and the one mask -> box + 3 points rule.

Why one module: Crab+ writes every spatial answer as integers in a square 224-pixel space whatever the
image size (the release; docs/data.md). The record schema, the parsers, the chance baseline, the
segmenters, single-file prediction and the mask importers all need that side, its clipping and its
conventions, and before this module each held its own copy (and two different mask rules).

Conventions:

- a box is ``[x1, y1, x2, y2]`` with ``0 <= x1 < x2 <= SPACE`` (``x2``/``y2`` one past the last
  covered pixel, exclusive, so the box of a rectangular mask fills exactly that mask);
- a point is ``[x, y]`` with ``0 <= x, y < SPACE`` (a pixel).

The mask rule (:func:`mask_box_points`) is the one AVSynth has always used for its ground truth, so
that its records (and every number the demo prints) stay as they are; the benchmark importers use it
too, with a fixed seed, so their answers are a function of the mask alone.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: The side of the square pixel space of boxes, points and masks in Crab+ (the release; docs/data.md).
SPACE = 224

#: The seed of the mask rule's random picks where no generator is given (the importers): a fixed seed
#: makes a mask's box and points a function of the mask alone.
MASK_RULE_SEED = 0


def clip_box(values) -> list[int] | None:
    """A box of 4 numbers rounded and clipped into the space; None when nothing of it is left
    (``x1 >= x2`` or ``y1 >= y2`` after clipping)."""
    x1, y1, x2, y2 = (min(max(round(v), 0), SPACE) for v in values)
    return [x1, y1, x2, y2] if x1 < x2 and y1 < y2 else None


def clip_point(x: float, y: float) -> list[int]:
    """A point rounded and moved to the nearest pixel of the space."""
    return [min(max(round(x), 0), SPACE - 1), min(max(round(y), 0), SPACE - 1)]


def point_inside(x: int, y: int) -> bool:
    """Whether pixel ``(x, y)`` lies in the space."""
    return 0 <= x < SPACE and 0 <= y < SPACE


def box_inside(box) -> bool:
    """Whether ``box`` is a non-empty box of the space (the record schema's convention, ``x2 <= SPACE``)."""
    return 0 <= box[0] < box[2] <= SPACE and 0 <= box[1] < box[3] <= SPACE


def mask_box_points(mask: np.ndarray, rng: np.random.Generator | None = None) -> tuple[list[int], list[list[int]]]:
    """Box ``[x1, y1, x2, y2]`` and three points ``[[x, y]] * 3`` of a binary square ``mask`` [S, S], in
    224-pixel space (any side ``S``; a 224 mask maps pixel for pixel).

    The box covers whole pixels: pixel columns x_min..x_max map to [x_min, x_max + 1] * 224 / S
    (floor / ceil). Points are pixel centres (x + 0.5) * 224 / S of mask pixels: the deepest pixel
    (largest distance to the background, the border counting as background) first — the object's
    "centre" — then the deep pixel (top third by depth) farthest from it, then one drawn by ``rng``
    among the farther half of the deep pixels; so they map back into the object at any size and
    are interior prompts a promptable segmenter can use. A mask too small to have two other deep
    pixels gets two pixels drawn at random. ``rng`` None draws with ``MASK_RULE_SEED``.
    An empty mask is a ValueError.
    """
    size = mask.shape[0]
    ys, xs = np.nonzero(mask)  # [K] each: the mask's pixels, row-major
    if len(xs) == 0:
        raise ValueError("empty mask: the object is not visible in this frame")
    if rng is None:
        rng = np.random.default_rng(MASK_RULE_SEED)
    scale = SPACE / size
    box = [
        int(math.floor(xs.min() * scale)),
        int(math.floor(ys.min() * scale)),
        min(SPACE, int(math.ceil((xs.max() + 1) * scale))),
        min(SPACE, int(math.ceil((ys.max() + 1) * scale))),
    ]
    # distance to the nearest background pixel, padded so that the image border counts as background
    dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]  # [S, S]
    depth = dist[ys, xs]  # [K]
    deep = np.nonzero(depth >= np.quantile(depth, 2 / 3))[0]
    first = int(np.argmax(depth))
    others = [i for i in deep if i != first]
    if len(others) >= 2:
        far = sorted(others, key=lambda i: -((xs[i] - xs[first]) ** 2 + (ys[i] - ys[first]) ** 2))
        picks = [first, int(far[0]), int(rng.choice(far[: max(2, len(far) // 2)][1:]))]
    else:
        picks = [first] + [int(i) for i in rng.choice(len(xs), size=2)]
    points = [[int((xs[i] + 0.5) * scale), int((ys[i] + 0.5) * scale)] for i in picks]
    return box, points
