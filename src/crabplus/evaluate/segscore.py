"""Segmentation and grounding datasets: S4 / MS3 (masks), Ref-AVS (masks + null set), ARIG (boxes).

Masks come from the segmenter prompted with the predicted box and points (the release; docs/evaluation.md). Each
record is reduced to per-frame statistics right away (IoU, F curve, foreground count, ...) so a
large test set never holds its masks in memory; the three conventions (ours, the release's, chance)
are then aggregations of these statistics over different subsets.

- S4 / MS3: J with ``p > 0.5`` and F, both over batches of ``frames_per_batch`` consecutive records
  (the official 20 = 4 videos x 5 frames: mean of the per-batch values, a short last batch weighing as
  a full one), plus label accuracy and box IoU against the GT box. Without GT masks only the box
  numbers exist and ``box_miou`` is the headline.
- Ref-AVS: J with ``p > 0.4`` and F on the samples whose object exists, null S on the others
  (predicting "false" gives an empty mask), each per batch of 4 consecutive samples as the official
  driver (loader batch 4, one metric call per batch), averaged over batches. Batches form within a
  split, in record order. ``fscore_per_sample`` and ``null_s_per_sample`` (one call per sample) are
  extras, not the official numbers. A sample is the records sharing ``meta["sample"]``, else ``meta``
  vid + fid (the release's layout), else one video + instruction, else the record alone.
- ARIG: box IoU (mean, success@0.5, AUC) and label accuracy.
- Unparsed is wrong: frame IoU 0 and a zero F curve; on a null sample every pixel counts as
  foreground (S = 1, the worst value); box IoU 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crabplus.evaluate.images import FrameSource
from crabplus.evaluate.scoring import Score
from crabplus.metrics import (
    avs_frame_iou,
    avs_fscore_curves,
    avs_fscore_from_curves,
    batch_fscore,
    box_grounding_scores,
    mean_of_batch_means,
)
from crabplus.metrics.avs import NUM_THRESHOLDS, REFAVS_SAMPLES_PER_BATCH
from crabplus.metrics.box import box_iou
from crabplus.schema.records import Record
from crabplus.schema.registry import DatasetSpec
from crabplus.tasks.normalize import answers_match
from crabplus.tasks.parsers import Prediction

AVS_THRESHOLD = 0.5
REFAVS_THRESHOLD = 0.4


@dataclass
class FrameStats:
    """What one record contributes to its dataset's numbers."""

    release_valid: bool
    iou: float | None = None  # mask J of the frame (None: no GT mask / not a positive sample)
    curve: np.ndarray | None = None  # [255] F curve
    counted: bool = False  # the GT mask is non-empty (F counts the frame)
    label_correct: bool | None = None
    box_iou: float | None = None
    pred_box: list[int] | None = None
    gt_box: list[int] | None = None
    exists_gt: bool | None = None
    exists_correct: bool | None = None
    foreground: int = 0  # null sample: predicted foreground pixels
    pixels: int = 0
    group: str = ""
    split: str | None = None


def sample_key(record: Record) -> str:
    """Which Ref-AVS sample (set of frames scored together) a record belongs to."""
    meta = record.meta
    if meta.get("sample") is not None:
        return str(meta["sample"])
    if meta.get("vid") is not None and meta.get("fid") is not None:
        return f"{meta['vid']}/fid_{meta['fid']}"
    if record.media.video is not None:
        return f"{record.media.video}|{record.instruction}"
    return record.id


class SegmentationScorer:
    """Per-record statistics for S4/MS3/Ref-AVS/ARIG; ``segmenter`` is built lazily on first use."""

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

    def _mask(self, record: Record, pred: Prediction, size_hw, image_cache: dict) -> np.ndarray:
        if "image" not in image_cache:
            image_cache["image"] = self.frames.frame(record, size_hw)
        image = image_cache["image"]
        return self.segmenter.segment(image, pred.box, pred.points)  # bool [H, W]

    def stats(self, spec: DatasetSpec, record: Record, preds: list[Prediction]) -> list[FrameStats]:
        """Statistics of several predictions (ours, chance) for one record, reading its media once."""
        gt_mask = self.frames.gt_mask(record) if spec.name != "arig" else None
        size_hw = gt_mask.shape if gt_mask is not None else None
        cache: dict = {}
        return [self._one(spec, record, p, gt_mask, size_hw, cache) for p in preds]

    def _one(self, spec, record: Record, pred: Prediction, gt_mask, size_hw, cache) -> FrameStats:
        st = FrameStats(release_valid=pred.release_valid, group=sample_key(record), split=record.meta.get("split"))
        ans = record.answer
        if spec.name == "ref_avs":
            return self._refavs(record, pred, gt_mask, size_hw, cache, st)
        st.label_correct = pred.parsed and answers_match(pred.label, ans.label)
        st.pred_box = pred.box if pred.parsed else None
        st.gt_box = ans.box
        st.box_iou = box_iou(st.pred_box, ans.box) if ans.box is not None else None
        if spec.name == "arig" or gt_mask is None:
            return st
        self._mask_stats(record, pred, gt_mask, size_hw, cache, st, AVS_THRESHOLD, predicted_empty=False)
        return st

    def _mask_stats(self, record, pred, gt_mask, size_hw, cache, st: FrameStats, threshold: float,
                    predicted_empty: bool) -> None:
        st.counted = bool(gt_mask.any())
        if not pred.parsed:
            st.iou, st.curve = 0.0, np.zeros(NUM_THRESHOLDS)
            return
        mask = np.zeros(gt_mask.shape, dtype=bool) if predicted_empty else self._mask(record, pred, size_hw, cache)
        prob = mask[None].astype(np.float64)  # [1, H, W] a hard mask as probabilities 0/1
        st.iou = float(avs_frame_iou(prob, gt_mask[None], threshold)[0])
        curves, _ = avs_fscore_curves(prob, gt_mask[None])
        st.curve = curves[0]

    def _refavs(self, record, pred, gt_mask, size_hw, cache, st: FrameStats) -> FrameStats:
        exists = bool(record.answer.exists)
        st.exists_gt = exists
        st.exists_correct = pred.parsed and pred.exists == exists
        says_absent = pred.exists is False
        if exists:
            if gt_mask is not None:
                self._mask_stats(record, pred, gt_mask, size_hw, cache, st, REFAVS_THRESHOLD, says_absent)
            return st
        if not pred.parsed or not says_absent:
            if "image" not in cache:
                cache["image"] = self.frames.frame(record, size_hw)
            h, w = cache["image"].shape[:2]
            st.pixels = h * w
            st.foreground = st.pixels if not pred.parsed else int(self._mask(record, pred, size_hw, cache).sum())
        else:  # an empty prediction; its pixel count still matters, as S pools the pixels of a 4-sample batch
            if size_hw is None and "image" not in cache:
                cache["image"] = self.frames.frame(record, size_hw)
            h, w = size_hw if size_hw is not None else cache["image"].shape[:2]
            st.pixels, st.foreground = h * w, 0
        return st


def _mean(values) -> float:
    return float(np.mean(values))


def _mask_metrics(stats: list[FrameStats], frames_per_batch: int) -> dict[str, float]:
    masked = [s for s in stats if s.iou is not None]
    if not masked:
        return {}
    curves = np.stack([s.curve for s in masked])  # [N, 255]
    counted = np.array([s.counted for s in masked])
    return {"miou": mean_of_batch_means([s.iou for s in masked], frames_per_batch),
            "fscore": avs_fscore_from_curves(curves, counted, frames_per_batch)}


def _samples(stats: list[FrameStats]) -> list[list[FrameStats]]:
    """Frames grouped by sample, samples in order of first appearance."""
    groups: dict[str, list[FrameStats]] = {}
    for s in stats:
        groups.setdefault(s.group, []).append(s)
    return list(groups.values())


def _batches(samples: list[list[FrameStats]]) -> list[list[FrameStats]]:
    """The official Ref-AVS batches: 4 consecutive samples of one split, frames pooled."""
    by_split: dict[str | None, list[list[FrameStats]]] = {}
    for sample in samples:
        by_split.setdefault(sample[0].split, []).append(sample)
    out = []
    for group in by_split.values():
        for start in range(0, len(group), REFAVS_SAMPLES_PER_BATCH):
            out.append([m for sample in group[start:start + REFAVS_SAMPLES_PER_BATCH] for m in sample])
    return out


def _fscore(frames: list[FrameStats]) -> float:
    return batch_fscore(np.stack([m.curve for m in frames]), np.array([m.counted for m in frames]))


def _refavs_masks(stats: list[FrameStats]) -> dict[str, float]:
    samples = _samples(stats)
    batches = _batches(samples)
    return {"miou": _mean([_mean([m.iou for m in b]) for b in batches]),
            "fscore": _mean([_fscore(b) for b in batches]),
            "fscore_per_sample": _mean([_fscore(sample) for sample in samples])}


def _pooled_s(frames: list[FrameStats]) -> float:
    return float(np.sqrt(sum(m.foreground for m in frames) / sum(m.pixels for m in frames)))


def aggregate_segmentation(spec: DatasetSpec, stats: list[FrameStats], frames_per_batch: int = 20) -> Score:
    """The dataset's numbers from per-record statistics (one convention's subset)."""
    notes: list[str] = []
    if not stats:
        return Score({}, "miou", 0, notes)
    metrics: dict[str, float] = {}
    if spec.name == "ref_avs":
        positives = [s for s in stats if s.exists_gt and s.iou is not None]
        if positives:
            metrics.update(_refavs_masks(positives))
            splits = sorted({s.split for s in positives if s.split})
            if len(splits) > 1:
                for split in splits:
                    for k, v in _refavs_masks([s for s in positives if s.split == split]).items():
                        metrics[f"{k}/{split}"] = v
        nulls = [s for s in stats if s.exists_gt is False]
        if nulls:
            metrics["null_s"] = _mean([_pooled_s(b) for b in _batches(_samples(nulls))])
            metrics["null_s_per_sample"] = _mean([_pooled_s(sample) for sample in _samples(nulls)])
        metrics["exists_accuracy"] = _mean([bool(s.exists_correct) for s in stats])
        if any(s.exists_gt for s in stats) and not positives:
            notes.append("no GT masks on the existing-object samples: J and F not computed")
        primary = "miou" if "miou" in metrics else ("null_s" if "null_s" in metrics else "exists_accuracy")
        return Score(metrics, primary, len(stats), notes)
    if spec.name == "arig":
        boxed = [s for s in stats if s.box_iou is not None]
        if boxed:
            metrics.update(box_grounding_scores([s.pred_box for s in boxed], [s.gt_box for s in boxed]))
    else:
        metrics.update(_mask_metrics(stats, frames_per_batch))
        boxed = [s for s in stats if s.box_iou is not None]
        if boxed:
            metrics["box_miou"] = _mean([s.box_iou for s in boxed])
        if "miou" not in metrics:
            notes.append("records carry no GT mask (answer.mask): J and F not computed, box IoU is the headline")
    metrics["label_accuracy"] = _mean([bool(s.label_correct) for s in stats])
    primary = "miou" if "miou" in metrics else ("box_miou" if "box_miou" in metrics else "label_accuracy")
    return Score(metrics, primary, len(stats), notes)
