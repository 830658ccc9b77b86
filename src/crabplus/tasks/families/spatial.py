"""What the spatial families (mask, refavs, box) share: per-frame statistics and the box prior's draws.

Masks come from the segmenter prompted with the predicted box and points (the release; docs/evaluation.md).
Each record is reduced to per-frame statistics right away (IoU, F curve, foreground count, ...) so a large test
set never holds its masks in memory; the three conventions (ours, the release's, chance) are then aggregations
of these statistics over different subsets. Tasks never decode media: the frame, the ground-truth mask and the
segmenter's mask come from a ``masks`` object (``crabplus.evaluate.segscore.SegmentationScorer``) with
``frame(record, size_hw, cache)`` and ``mask(record, prediction, size_hw, cache)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crabplus.metrics import avs_frame_iou, avs_fscore_curves
from crabplus.metrics.avs import NUM_THRESHOLDS
from crabplus.metrics.box import box_iou
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Record
from crabplus.tasks.families.base import Family, Score, ScoreConfig, guess, others, pick, vocab
from crabplus.tasks.families.reading import FRAME
from crabplus.tasks.normalize import answers_match


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


def mean(values) -> float:
    return float(np.mean(values))


def mask_stats(
    masks,
    record: Record,
    pred: Prediction,
    gt_mask: np.ndarray,
    size_hw,
    cache: dict,
    st: FrameStats,
    threshold: float,
    predicted_empty: bool,
) -> None:
    """Fill ``st``'s J and F curve for one frame; unparsed is wrong (J 0, a zero F curve)."""
    st.counted = bool(gt_mask.any())
    if not pred.parsed:
        st.iou, st.curve = 0.0, np.zeros(NUM_THRESHOLDS)
        return
    mask = np.zeros(gt_mask.shape, dtype=bool) if predicted_empty else masks.mask(record, pred, size_hw, cache)
    prob = mask[None].astype(np.float64)  # [1, H, W] a hard mask as probabilities 0/1
    st.iou = float(avs_frame_iou(prob, gt_mask[None], threshold)[0])
    curves, _ = avs_fscore_curves(prob, gt_mask[None])
    st.curve = curves[0]


def points_in(rng: np.random.Generator, box: list[int]) -> list[list[int]]:
    """Three points drawn uniformly inside ``box`` (and the frame)."""
    x1, y1, x2, y2 = box
    return [
        [int(rng.integers(x1, max(x1 + 1, min(x2, FRAME)))), int(rng.integers(y1, max(y1 + 1, min(y2, FRAME))))]
        for _ in range(3)
    ]


def random_box(rng: np.random.Generator) -> list[int]:
    """A box with corners drawn uniformly in the frame (when no record has a box to borrow)."""
    x1, x2 = sorted(rng.choice(FRAME + 1, size=2, replace=False).tolist())
    y1, y2 = sorted(rng.choice(FRAME + 1, size=2, replace=False).tolist())
    return [x1, y1, x2, y2]


def borrowed_box(rng: np.random.Generator, boxes: list, i: int) -> list[int]:
    """Record ``i``'s chance box: another record's ground-truth box drawn uniformly (the prior of boxes of the
    set), or a uniform random box when no other record has one."""
    pool = others(boxes, i)
    return list(pick(rng, pool)) if pool else random_box(rng)


class SpatialFamily(Family):
    """A family scored frame by frame: ``frame_stats`` per record, then ``aggregate`` over a subset."""

    spatial = True
    segments = True
    #: the headline's stand-ins, in order, when the primary metric cannot be computed (no ground-truth masks)
    fallbacks: tuple[str, ...] = ()
    #: a chance guess says whether the object exists (Ref-AVS) / carries three points inside its box
    guesses_exists = False
    guesses_points = True

    def frame_stats(self, masks, record: Record, pred: Prediction, gt_mask, size_hw, cache: dict) -> FrameStats:
        raise NotImplementedError

    def aggregate(self, stats: list[FrameStats], frames_per_batch: int = 20) -> Score:
        """The dataset's numbers from per-record statistics (one convention's subset)."""
        primary = self.primary_metric  # an unscorable spec.metric is an error before anything is computed
        notes: list[str] = []
        if not stats:
            return Score({}, primary, 0, notes)
        metrics = self.aggregate_metrics(stats, frames_per_batch, notes)
        headline = next((m for m in (primary, *self.fallbacks) if m in metrics), self.fallbacks[-1])
        return Score(metrics, headline, len(stats), notes)

    def aggregate_metrics(self, stats: list[FrameStats], frames_per_batch: int, notes: list[str]) -> dict[str, float]:
        raise NotImplementedError

    def _stats(self, records: list[Record], lists: list[list[Prediction]], cfg: ScoreConfig) -> list[list[FrameStats]]:
        """[N][len(lists)]: each record's statistics of each prediction list, its media read once."""
        if self.segments and cfg.masks is None:
            raise ValueError(f"{self.spec.name}: scoring masks needs ScoreConfig.masks (a SegmentationScorer)")
        if cfg.masks is not None:
            return [cfg.masks.stats(self, r, list(ps)) for r, *ps in zip(records, *lists)]
        return [[self.frame_stats(None, r, p, None, None, {}) for p in ps] for r, *ps in zip(records, *lists)]

    def score(self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig | None = None) -> Score:
        """Statistics per record through ``cfg.masks`` (frames, ground-truth masks, segmenter), then aggregated."""
        cfg = cfg or ScoreConfig()
        self.primary_metric  # noqa: B018 - an unscorable spec.metric is an error before any frame is read
        return self.aggregate([s[0] for s in self._stats(records, [predictions], cfg)], cfg.frames_per_batch)

    def score_conventions(
        self,
        records: list[Record],
        predictions: list[Prediction],
        draws: list[list[Prediction]],
        keep: list[int],
        cfg: ScoreConfig | None = None,
    ) -> tuple[Score, Score, list[Score]]:
        """As :meth:`Family.score_conventions`, segmenting each record's frame once for ours and every draw; the
        release's convention aggregates a subset of the same statistics."""
        cfg = cfg or ScoreConfig()
        self.primary_metric  # noqa: B018 - an unscorable spec.metric is an error before any frame is read
        stats = self._stats(records, [predictions, *draws], cfg)  # [N][1 + K]
        ours = self.aggregate([s[0] for s in stats], cfg.frames_per_batch)
        release = self.aggregate([stats[i][0] for i in keep], cfg.frames_per_batch)
        return (
            ours,
            release,
            [self.aggregate([s[1 + d] for s in stats], cfg.frames_per_batch) for d in range(len(draws))],
        )

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        """Per record: a label of the set, whether the object exists (when the family asks), another record's
        box (the box prior) and three points inside it."""
        labels = vocab(r.answer.label for r in records)
        boxes = [r.answer.box for r in records]
        out = []
        for i, _ in enumerate(records):
            p = guess()
            p.label = pick(rng, labels)
            if self.guesses_exists:
                p.exists = bool(rng.integers(2))
            if p.exists is not False:
                p.box = borrowed_box(rng, boxes, i)
                if self.guesses_points:
                    p.points = points_in(rng, p.box)
            out.append(p)
        return out


def label_box_stats(record: Record, pred: Prediction) -> FrameStats:
    """The label and box part of a frame's statistics (S4 / MS3 / ARIG); unparsed: wrong label, box IoU 0."""
    st = FrameStats(release_valid=pred.release_valid, group=sample_key(record), split=record.meta.get("split"))
    ans = record.answer
    st.label_correct = pred.parsed and answers_match(pred.label, ans.label)
    st.pred_box = pred.box if pred.parsed else None
    st.gt_box = ans.box
    st.box_iou = box_iou(st.pred_box, ans.box) if ans.box is not None else None
    return st


def label_accuracy(stats: list[FrameStats]) -> float:
    return mean([bool(s.label_correct) for s in stats])
