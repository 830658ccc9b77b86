"""Ground-truth masks of AVSBench (S4 / MS3, AV-UIE ``labels_rgb``) and Ref-AVS, and the box + points
that Crab+ writes for a mask.

Why this exists: the release's test records of S4 / MS3 / Ref-AVS carry no box and no points (the
official metric compares masks), but a unified record needs the structured answer. We recover it
from the ground-truth mask, in the same 224-pixel space and with the same reading rule the release's
scoring stage uses (the release, docs/evaluation.md: load, nearest-resize to 224, binarise ``> 0``).

Reading rule per PNG mode (benchmarks.md §3):

- ``'1'`` (AVSBench S4 ``gt_masks``) and ``'L'`` / ``'RGB'`` / ``'RGBA'`` (AV-UIE ``labels_rgb`` colour
  maps, Ref-AVS ``gt_mask``): converted to grey, foreground is grey ``> 0``;
- ``'P'`` (palette PNGs, AVSBench MS3): foreground is palette *index* ``> 0``, whatever colour the
  palette gives that index (a palette may map a foreground index to black; the benchmark reads
  indices, not colours).

Box convention: ``[x1, y1, x2, y2]`` with ``x2``/``y2`` one past the last foreground column/row
(exclusive), the convention of the record schema (``x2 <= 224``) and of the segmenters
(:func:`crabplus.segment.base.box_mask` fills ``[y1:y2, x1:x2]``), so that the box of a rectangular
mask fills exactly that mask. Points:
three foreground pixels chosen deterministically, the first the one deepest inside the mask (largest
distance to the background), the next two as far as possible from the border and from the points
already chosen — interior, spread-out prompts are what a promptable segmenter needs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from crabplus.utils.errors import CrabplusError

#: The side of the square pixel space of boxes, points and masks in Crab+ (the release; docs/data.md).
SPACE = 224


class MaskError(CrabplusError, ValueError):
    """A mask file is unreadable or a mask path cannot be derived; the message names the file."""


def load_binary_mask(path: str | Path, size: int | None = SPACE) -> np.ndarray:
    """The mask in ``path`` as a boolean array ``[size, size]`` (``[H, W]`` of the file when ``size``
    is None), foreground per the reading rule of the module docstring, nearest-neighbour resized."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            # [H, W]: palette indices for 'P' (foreground = any non-zero index), else grey levels
            binary = np.asarray(img) > 0 if img.mode == "P" else np.asarray(img.convert("L")) > 0
    except (OSError, ValueError) as exc:
        raise MaskError(f"{path}: not a readable mask image ({exc})") from None
    if size is not None and binary.shape != (size, size):
        # nearest resize commutes with thresholding, so resizing the binary mask equals resizing grey
        small = Image.fromarray(binary.astype(np.uint8) * 255).resize((size, size), Image.Resampling.NEAREST)
        binary = np.asarray(small) > 0
    return binary


def mask_box(mask: np.ndarray) -> list[int] | None:
    """``[x1, y1, x2, y2]`` of the foreground of ``mask`` [H, W] (``x2``/``y2`` exclusive); None if empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def mask_points(mask: np.ndarray, n: int = 3) -> list[list[int]]:
    """``n`` foreground pixels ``[[x, y], ...]`` of ``mask`` [H, W] (see the module docstring); a mask
    with fewer distinct pixels repeats its deepest one. Empty mask -> ``[]``."""
    ys, xs = np.nonzero(mask)  # [K] each: the foreground pixels, row-major
    if xs.size == 0:
        return []
    # distance to the nearest background pixel; padded so the image border counts as background
    # (a point on the border is a poor prompt); [H, W] -> [K]
    depth = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1][ys, xs]
    # squared scores throughout (monotone, so the same choices without square roots)
    score = depth.astype(np.float32) ** 2  # [K]: min(depth, distance to the chosen points)^2
    xs_f, ys_f = xs.astype(np.float32), ys.astype(np.float32)
    points: list[list[int]] = []
    for _ in range(n):
        i = int(np.argmax(score))  # ties: first in row-major order, so the choice is deterministic
        if score[i] <= 0:
            points.append(points[0])
            continue
        points.append([int(xs[i]), int(ys[i])])
        score = np.minimum(score, (xs_f - xs[i]) ** 2 + (ys_f - ys[i]) ** 2)
    return points


def mask_box_points(mask: np.ndarray) -> tuple[list[int], list[list[int]]] | None:
    """Box and three points of ``mask`` [224, 224]; None for an empty mask."""
    box = mask_box(mask)
    if box is None:
        return None
    return box, mask_points(mask, 3)


def avs_mask_path(frame: str) -> str:
    """The AVSBench / AV-UIE ground-truth mask of a frame path (the release; docs/evaluation.md):
    ``.../<clip>/frames/<k>.jpg`` -> ``.../<clip>/labels_rgb/<k>.png``."""
    if "/frames/" not in frame or not frame.endswith(".jpg"):
        raise MaskError(f"cannot derive the mask path of {frame!r}: expected .../frames/<k>.jpg")
    return frame.replace("/frames/", "/labels_rgb/")[: -len(".jpg")] + ".png"


def refavs_mask_path(frame: str, fid: int | str) -> str:
    """The Ref-AVS ground-truth mask the release's scoring reads for a frame (the release; docs/evaluation.md):
    ``REFAVS/media/<clip>/frames/<k>.jpg`` -> ``REFAVS/gt_mask/<clip>/fid_<fid>/0000<k>.png``."""
    if "/media/" not in frame or "/frames/" not in frame or not frame.endswith(".jpg"):
        raise MaskError(f"cannot derive the mask path of {frame!r}: expected .../media/<clip>/frames/<k>.jpg")
    out = frame.replace("/media/", "/gt_mask/").replace("/frames/", f"/fid_{fid}/0000")
    return out[: -len(".jpg")] + ".png"


def refavs_sample_masks(vid: str, fid: int | str, frames: int = 10) -> list[str]:
    """The ten mask files of one Ref-AVS expression in the benchmark's own layout
    (``gt_mask/{vid}/fid_{fid}/0000{t}.png``, t = 0..9), relative to the benchmark root."""
    return [f"gt_mask/{vid}/fid_{fid}/0000{t}.png" for t in range(frames)]
