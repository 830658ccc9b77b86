"""UnAV-100 dense localisation mAP at temporal-IoU thresholds (benchmarks.md §7, ActivityNet style).

- Ground truth: duplicates (same video and label, start and end both within 1e-3 s, ``<=``) collapse
  into one; the classes are the labels present in the ground truth (predicted labels outside it are
  ignored).
- Per class and threshold t: the class's predictions over ALL videos are visited in descending
  score order. A prediction whose video has no ground truth of the class is an FP; otherwise its ground truths
  are tried in descending tIoU: a tIoU below t makes it an FP, a ground truth already matched at
  this threshold is skipped, else it is a TP and locks that ground truth. tIoU = clip(intersection,
  0) / union.
- AP is the VOC all-point interpolated AP of the precision/recall curve (recall = TP / #ground
  truths of the class); a class with no predictions has AP 0; mAP@t is the mean over classes.

Equal scores. The official code ranks with ``argsort()[::-1]``, whose order among equal scores numpy
does not define (numpy 2's sort is unstable even for 4 elements), so the official number is undefined
under ties. ``ties="average"`` (the default, our headline) is the exact expected AP over uniformly
random orders inside each block of equal score (:mod:`crabplus.metrics.tieap`); it needs the labels
(TP/FP) not to depend on that order, which holds when no video has two tied predictions of one class
(always so for our scorer, whose scores 1 / (1 + i) differ within an answer); otherwise it raises.
``ties="reversed"`` is a deterministic alternative: equal scores in reverse input order, i.e.
``argsort(kind="stable")[::-1]`` — one of the orders the official code may take, not *the* official one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence

import numpy as np

from crabplus.metrics.tieap import tie_averaged_ap

DUPLICATE_TOL = 1e-3
TIE_RULES = ("average", "reversed")
#: the official thresholds, np.linspace(0.1, 0.9, 9)
UNAV_THRESHOLDS = tuple(float(t) for t in np.linspace(0.1, 0.9, 9))


def segment_tiou(target: Sequence[float], candidates: np.ndarray) -> np.ndarray:
    """tIoU of one ``[start, end]`` against candidates [M, 2] -> [M] (0 where the union is empty)."""
    candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, 2)
    inter = (np.minimum(target[1], candidates[:, 1]) - np.maximum(target[0], candidates[:, 0])).clip(0)
    union = (candidates[:, 1] - candidates[:, 0]) + (target[1] - target[0]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = inter / union
    return np.where(union > 0, out, 0.0)


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC2011-style all-point interpolated average precision."""
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]  # precision envelope
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def dedupe_ground_truth(ground_truth: Iterable[tuple]) -> list[tuple[Hashable, Hashable, float, float]]:
    """Ground truth without duplicates (same video and label, both ends within 1e-3 s, inclusive)."""
    kept: list[tuple[Hashable, Hashable, float, float]] = []
    for video, label, start, end in ground_truth:
        start, end = float(start), float(end)
        dup = any(
            v == video and lab == label and abs(s - start) <= DUPLICATE_TOL and abs(e - end) <= DUPLICATE_TOL
            for v, lab, s, e in kept
        )
        if not dup:
            kept.append((video, label, start, end))
    return kept


def _labels(preds: list[tuple], order: np.ndarray, gts: list[tuple], thresholds: Sequence[float]) -> np.ndarray:
    """TP (1) / FP (0) [T, P] of a class's predictions visited in ``order`` (greedy matching, see above)."""
    gt_by_video: dict[Hashable, list[int]] = defaultdict(list)
    for j, (video, _, _) in enumerate(gts):
        gt_by_video[video].append(j)
    gt_seg = np.array([[s, e] for _, s, e in gts], dtype=np.float64).reshape(-1, 2)  # [G, 2]
    tp = np.zeros((len(thresholds), len(preds)))
    locked = np.zeros((len(thresholds), len(gts)), dtype=bool)
    for rank, i in enumerate(order):
        video, start, end, _ = preds[i]
        cand = gt_by_video.get(video)
        if not cand:
            continue
        tiou = segment_tiou((start, end), gt_seg[cand])  # [M]
        by_tiou = np.argsort(tiou, kind="stable")[::-1]
        for ti, t in enumerate(thresholds):
            for k in by_tiou:
                if tiou[k] < t:
                    break  # FP
                if locked[ti, cand[k]]:
                    continue
                tp[ti, rank] = 1
                locked[ti, cand[k]] = True
                break
    return tp  # anything not a TP is an FP (below t, or every reachable ground truth already taken)


def _class_ap(preds: list[tuple], gts: list[tuple], thresholds: Sequence[float], ties: str) -> np.ndarray:
    """AP [T] of one class. preds: (video, start, end, score); gts: (video, start, end)."""
    ap = np.zeros(len(thresholds))
    if not preds:
        return ap
    scores = np.array([p[3] for p in preds], dtype=np.float64)
    if ties == "reversed":
        order = np.argsort(scores, kind="stable")[::-1]  # equal scores in reverse input order
        tp = _labels(preds, order, gts, thresholds)
        cum_tp = np.cumsum(tp, axis=1)
        cum_fp = np.cumsum(1 - tp, axis=1)
        for ti in range(len(thresholds)):
            ap[ti] = interpolated_ap(cum_tp[ti] / (cum_tp[ti] + cum_fp[ti]), cum_tp[ti] / len(gts))
        return ap
    order = np.argsort(-scores, kind="stable")  # descending; ties in input order (any order gives the same labels)
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # first rank of each block of equal score
    bounds = np.r_[starts, len(order)]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        videos = [preds[i][0] for i in order[lo:hi]]
        if len(set(videos)) < len(videos):
            raise ValueError(
                "tiou_map(ties='average'): one video has two predictions of one class with equal "
                "scores, so the TP/FP labels depend on their order; give them distinct scores or use "
                "ties='reversed'"
            )
    tp = _labels(preds, order, gts, thresholds)
    for ti in range(len(thresholds)):
        hits = [int(tp[ti, lo:hi].sum()) for lo, hi in zip(bounds[:-1], bounds[1:])]
        blocks = [(h, int(hi - lo) - h) for h, lo, hi in zip(hits, bounds[:-1], bounds[1:])]
        ap[ti] = tie_averaged_ap(blocks, len(gts))
    return ap


def tiou_map(
    predictions: Iterable[tuple],
    ground_truth: Iterable[tuple],
    thresholds: Sequence[float] = UNAV_THRESHOLDS,
    *,
    ties: str = "average",
) -> dict[float, float]:
    """mAP per tIoU threshold: ``{t: mAP@t}``; ``ties``: "average" (exact tie-averaged AP) or "reversed".

    ``predictions``: ``(video, label, start, end, score)``; ``ground_truth``: ``(video, label, start,
    end)``. The UnAV-100 "Avg." is the mean of the values over the default thresholds 0.1..0.9.
    """
    if ties not in TIE_RULES:
        raise ValueError(f"tiou_map: ties must be one of {TIE_RULES}, got {ties!r}")
    thresholds = [float(t) for t in thresholds]
    gts = dedupe_ground_truth(ground_truth)
    if not gts:
        raise ValueError("tiou_map: no ground truth")
    gt_by_class: dict[Hashable, list[tuple]] = defaultdict(list)
    for video, label, start, end in gts:
        gt_by_class[label].append((video, start, end))
    pred_by_class: dict[Hashable, list[tuple]] = defaultdict(list)
    for video, label, start, end, score in predictions:
        if label in gt_by_class:
            pred_by_class[label].append((video, float(start), float(end), float(score)))
    aps = np.array(
        [_class_ap(pred_by_class.get(c, []), gt_by_class[c], thresholds, ties) for c in gt_by_class]
    )  # [C, T]
    return {t: float(aps[:, i].mean()) for i, t in enumerate(thresholds)}
