"""crabplus.segment: box + points (224-pixel space) -> mask, through a promptable segmenter.

``build_segmenter("grabcut")`` is the embedded default (OpenCV, no weights);
``build_segmenter("sam2", "DIR")`` loads SAM 2.1 from a local transformers folder.
"""

from __future__ import annotations

from crabplus.segment.base import FRAME, Segmenter, box_mask, scale_box, scale_points
from crabplus.segment.grabcut import GrabCutSegmenter
from crabplus.segment.sam2 import Sam2Segmenter, SegmenterError

SEGMENTERS = ("grabcut", "sam2")


def build_segmenter(kind: str = "grabcut", checkpoint: str | None = None) -> Segmenter:
    """A segmenter by name: ``grabcut`` (no checkpoint) or ``sam2`` (``checkpoint`` = local folder)."""
    if kind == "grabcut":
        if checkpoint is not None:
            raise SegmenterError("the grabcut segmenter takes no checkpoint")
        return GrabCutSegmenter()
    if kind == "sam2":
        return Sam2Segmenter(checkpoint)
    raise SegmenterError(f"unknown segmenter {kind!r} (known: {', '.join(SEGMENTERS)})")


__all__ = [
    "FRAME",
    "SEGMENTERS",
    "GrabCutSegmenter",
    "Sam2Segmenter",
    "Segmenter",
    "SegmenterError",
    "box_mask",
    "build_segmenter",
    "scale_box",
    "scale_points",
]
