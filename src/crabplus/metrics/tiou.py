"""UnAV-100 dense localisation mAP at temporal-IoU thresholds (benchmarks.md §7, ActivityNet style).

- Ground truth: duplicates (same video and label, start and end both within 1e-3 s) collapse into
  one; the classes are the labels present in the ground truth (predicted labels outside it are
  ignored).
- Per class and threshold t: the class's predictions over ALL videos are visited in descending
  score order (``argsort()[::-1]`` as the official code: equal scores in reverse input order). A
  prediction whose video has no ground truth of the class is an FP; otherwise its ground truths
  are tried in descending tIoU: a tIoU below t makes it an FP, a ground truth already matched at
  this threshold is skipped, else it is a TP and locks that ground truth. tIoU = clip(intersection,
  0) / union.
- AP is the VOC all-point interpolated AP of the precision/recall curve (recall = TP / #ground
  truths of the class); a class with no predictions has AP 0; mAP@t is the mean over classes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence

import numpy as np

DUPLICATE_TOL = 1e-3
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
    """Ground truth without duplicates (same video and label, both ends within 1e-3 s)."""
    kept: list[tuple[Hashable, Hashable, float, float]] = []
    for video, label, start, end in ground_truth:
        start, end = float(start), float(end)
        dup = any(v == video and lab == label and abs(s - start) < DUPLICATE_TOL and abs(e - end) < DUPLICATE_TOL
                  for v, lab, s, e in kept)
        if not dup:
            kept.append((video, label, start, end))
    return kept


def _class_ap(preds: list[tuple], gts: list[tuple], thresholds: Sequence[float]) -> np.ndarray:
    """AP [T] of one class. preds: (video, start, end, score); gts: (video, start, end)."""
    ap = np.zeros(len(thresholds))
    if not preds:
        return ap
    gt_by_video: dict[Hashable, list[int]] = defaultdict(list)
    for j, (video, _, _) in enumerate(gts):
        gt_by_video[video].append(j)
    gt_seg = np.array([[s, e] for _, s, e in gts], dtype=np.float64).reshape(-1, 2)  # [G, 2]
    # descending score as the official ``argsort()[::-1]``: equal scores are visited in reverse input order
    order = np.argsort(np.array([p[3] for p in preds], dtype=np.float64), kind="stable")[::-1]
    tp = np.zeros((len(thresholds), len(preds)))
    fp = np.zeros((len(thresholds), len(preds)))
    locked = np.zeros((len(thresholds), len(gts)), dtype=bool)
    for rank, i in enumerate(order):
        video, start, end, _ = preds[i]
        cand = gt_by_video.get(video)
        if not cand:
            fp[:, rank] = 1
            continue
        tiou = segment_tiou((start, end), gt_seg[cand])  # [M]
        by_tiou = np.argsort(tiou, kind="stable")[::-1]
        for ti, t in enumerate(thresholds):
            for k in by_tiou:
                if tiou[k] < t:
                    fp[ti, rank] = 1
                    break
                if locked[ti, cand[k]]:
                    continue
                tp[ti, rank] = 1
                locked[ti, cand[k]] = True
                break
            if tp[ti, rank] == 0 and fp[ti, rank] == 0:
                fp[ti, rank] = 1  # every reachable ground truth was already taken
    cum_tp = np.cumsum(tp, axis=1)
    cum_fp = np.cumsum(fp, axis=1)
    recall = cum_tp / len(gts)
    precision = cum_tp / (cum_tp + cum_fp)
    for ti in range(len(thresholds)):
        ap[ti] = interpolated_ap(precision[ti], recall[ti])
    return ap


def tiou_map(predictions: Iterable[tuple], ground_truth: Iterable[tuple],
             thresholds: Sequence[float] = UNAV_THRESHOLDS) -> dict[float, float]:
    """mAP per tIoU threshold: ``{t: mAP@t}``.

    ``predictions``: ``(video, label, start, end, score)``; ``ground_truth``: ``(video, label, start,
    end)``. The UnAV-100 "Avg." is the mean of the values over the default thresholds 0.1..0.9.
    """
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
    aps = np.array([_class_ap(pred_by_class.get(c, []), gt_by_class[c], thresholds) for c in gt_by_class])  # [C, T]
    return {t: float(aps[:, i].mean()) for i, t in enumerate(thresholds)}
