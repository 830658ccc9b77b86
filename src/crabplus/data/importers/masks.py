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

Box and points: the one rule of :func:`crabplus.schema.geometry.mask_box_points` (the rule AVSynth's
ground truth uses), with its fixed seed, so an imported answer is a function of the mask alone: the box
covers the foreground with exclusive ends (``x2 <= 224``, so the box of a rectangular mask fills exactly
that mask, as :func:`crabplus.segment.base.box_mask` fills ``[y1:y2, x1:x2]``); the three points are
interior foreground pixels, the deepest first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from crabplus.schema import geometry
from crabplus.schema.geometry import SPACE
from crabplus.utils.errors import CrabplusError


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


def mask_box_points(mask: np.ndarray) -> tuple[list[int], list[list[int]]] | None:
    """Box and three points of ``mask`` [224, 224] by the one rule (see the module docstring); None for an
    empty mask (a record without a visible object)."""
    return geometry.mask_box_points(mask) if mask.any() else None


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
