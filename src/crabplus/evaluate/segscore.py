"""Segmentation and grounding datasets: S4 / MS3 (masks), Ref-AVS (masks + null set), ARIG (boxes).

How each is scored is its answer family's (``crabplus.tasks.families``: ``mask``, ``refavs``, ``box``, each
docstring stating the official conventions); this module gives those families what tasks never touch: the
record's frame and ground-truth mask (``FrameSource``) and the segmenter that turns a predicted box + points
into a mask (built lazily, on first use). Each record is reduced to per-frame statistics right away
(:class:`FrameStats`) so a large test set never holds its masks in memory; the three conventions (ours, the
release's, chance) are then aggregations of these statistics over different subsets.
"""

from __future__ import annotations

import numpy as np

from crabplus.evaluate.images import FrameSource
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Record
from crabplus.tasks.families.spatial import FrameStats, SpatialFamily, sample_key

__all__ = ["FrameStats", "SegmentationScorer", "sample_key"]


class SegmentationScorer:
    """Per-record statistics for the spatial families (``ScoreConfig.masks``, the ``MaskSource`` protocol of
    ``crabplus.tasks.families.base``); ``segmenter`` is built lazily on first use."""

    def __init__(self, frames: FrameSource, segmenter_factory):
        self.frames = frames
        self._factory = segmenter_factory
        self._segmenter = None

    @property
    def used_name(self) -> str | None:
        """The segmenter's name once one was used (None: no mask was needed)."""
        return getattr(self._segmenter, "name", type(self._segmenter).__name__) if self._segmenter else None

    @property
    def segmenter(self):
        if self._segmenter is None:
            self._segmenter = self._factory()
        return self._segmenter

    def frame(self, record: Record, size_hw, cache: dict) -> np.ndarray:
        """uint8 [H, W, 3]: the record's frame, read once per record (``cache``)."""
        if "image" not in cache:
            cache["image"] = self.frames.frame(record, size_hw)
        return cache["image"]

    def mask(self, record: Record, pred: Prediction, size_hw, cache: dict) -> np.ndarray:
        """bool [H, W]: the segmenter's mask for the predicted box and points."""
        return self.segmenter.segment(self.frame(record, size_hw, cache), pred.box, pred.points)

    def stats(self, family: SpatialFamily, record: Record, preds: list[Prediction]) -> list[FrameStats]:
        """Statistics of several predictions (ours, chance) for one record, reading its media once."""
        gt_mask = self.frames.gt_mask(record) if family.segments else None
        size_hw = gt_mask.shape if gt_mask is not None else None
        cache: dict = {}
        return [family.frame_stats(self, record, p, gt_mask, size_hw, cache) for p in preds]
