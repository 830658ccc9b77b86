"""AVVP / LLP (benchmarks.md §2): segment-level and event-level F per video, averaged over videos.

Per video the inputs are binary [C classes, T segments] matrices for audio and visual; the
audio-visual matrix is their segment-wise AND (for prediction and ground truth alike).

- Segment level: per class TP/FP/FN over segments, F = 2TP / (2TP + FN + FP), kept only for
  classes present in the prediction or the ground truth; the video's value is the mean over kept
  classes, or 1.0 when none is kept (all true negatives).
- Event level: a class row's events are its maximal runs of ones. A predicted event is a TP when
  ANY ground-truth event of the class has IoU >= 0.5 (inclusive), else an FP; a ground-truth event
  no prediction reaches is an FN. Matching is not one-to-one.
- "event" (Event@AV) pools audio and visual counts per class before F; "type" (Type@AV) is the
  mean of the audio, visual and audio-visual dataset means.
"""

from __future__ import annotations

import numpy as np

KINDS = ("audio", "visual", "av")
SCORE_KEYS = tuple(f"{level}_{k}" for level in ("segment", "event") for k in ("audio", "visual", "av", "type", "event"))


def extract_events(row) -> list[tuple[int, int]]:
    """Maximal runs of ones in a binary vector, as ``(start, end)`` with ``end`` exclusive."""
    row = np.asarray(row).astype(bool).astype(np.int8)  # [T]
    edges = np.diff(np.concatenate([[0], row, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), ends.tolist()))


def _iou_ok(a: tuple[int, int], b: tuple[int, int]) -> bool:
    # IoU >= 0.5, written as the official inequality so that exactly 0.5 matches
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter >= 0.5 * union


def match_events(pred_events, gt_events) -> tuple[int, int, int]:
    """(TP, FP, FN) of predicted vs ground-truth ``(start, end)`` events: a prediction is a TP when any
    ground truth has IoU >= 0.5 (so two predictions may both match one ground truth), a ground truth
    no prediction reaches is an FN."""
    tp = sum(1 for p in pred_events if any(_iou_ok(p, g) for g in gt_events))
    fp = len(pred_events) - tp
    fn = sum(1 for g in gt_events if not any(_iou_ok(p, g) for p in pred_events))
    return tp, fp, fn


def event_counts(pred_row, gt_row) -> tuple[int, int, int]:
    """(TP, FP, FN) of one class row [T] at event level."""
    return match_events(extract_events(pred_row), extract_events(gt_row))


def _video_f(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    """Mean F over classes with (TP+FP) or (TP+FN) non-zero; 1.0 if there is none. Inputs [C]."""
    keep = (tp + fp != 0) | (tp + fn != 0)
    if not keep.any():
        return 1.0
    tp, fp, fn = tp[keep], fp[keep], fn[keep]
    return float(np.mean(2 * tp / (2 * tp + fn + fp)))


def _segment_counts(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # pred, gt: [C, T] in {0,1}
    tp = (pred * gt).sum(axis=1)
    fn = ((1 - pred) * gt).sum(axis=1)
    fp = (pred * (1 - gt)).sum(axis=1)
    return tp, fp, fn


def _check(arrays) -> list[np.ndarray]:
    out = [np.asarray(a) for a in arrays]
    shape = out[0].shape
    if len(shape) != 3 or any(a.shape != shape for a in out):
        raise ValueError(f"avvp: expected four {{0,1}} arrays [N, C, T] of one shape, got {[a.shape for a in out]}")
    if shape[0] == 0:
        raise ValueError("avvp: no videos")
    return [(a != 0).astype(np.int64) for a in out]


def avvp_video_scores(pred_audio, pred_visual, gt_audio, gt_visual) -> dict[str, np.ndarray]:
    """Per-video F values [N] for ``segment_{audio,visual,av,event}`` and ``event_{…}``."""
    pa, pv, ga, gv = _check([pred_audio, pred_visual, gt_audio, gt_visual])
    n, num_classes, _ = pa.shape
    out = {f"{lvl}_{k}": np.zeros(n) for lvl in ("segment", "event") for k in (*KINDS, "event")}
    for i in range(n):
        pred = {"audio": pa[i], "visual": pv[i], "av": pa[i] * pv[i]}  # [C, T] each
        gt = {"audio": ga[i], "visual": gv[i], "av": ga[i] * gv[i]}
        seg = {k: _segment_counts(pred[k], gt[k]) for k in KINDS}
        evt = {}
        for k in KINDS:
            counts = np.array([event_counts(pred[k][c], gt[k][c]) for c in range(num_classes)])  # [C, 3]
            evt[k] = (counts[:, 0], counts[:, 1], counts[:, 2])
        for level, counts in (("segment", seg), ("event", evt)):
            for k in KINDS:
                out[f"{level}_{k}"][i] = _video_f(*counts[k])
            pooled = [counts["audio"][j] + counts["visual"][j] for j in range(3)]
            out[f"{level}_event"][i] = _video_f(*pooled)
    return out


def aggregate_avvp(per_video: dict[str, np.ndarray]) -> dict[str, float]:
    """Dataset values from per-video ones: means over videos; Type@AV = mean of the three means."""
    scores: dict[str, float] = {}
    for level in ("segment", "event"):
        for k in (*KINDS, "event"):
            scores[f"{level}_{k}"] = float(np.mean(per_video[f"{level}_{k}"]))
        scores[f"{level}_type"] = (scores[f"{level}_audio"] + scores[f"{level}_visual"] + scores[f"{level}_av"]) / 3
    return {k: scores[k] for k in SCORE_KEYS}


def avvp_scores(pred_audio, pred_visual, gt_audio, gt_visual) -> dict[str, float]:
    """The ten AVVP numbers in [0, 1] from {0,1} arrays [N, C, T] (official: C = 25, T = 10).

    Keys: ``segment_audio, segment_visual, segment_av, segment_type, segment_event`` and the same
    five with ``event_``.
    """
    return aggregate_avvp(avvp_video_scores(pred_audio, pred_visual, gt_audio, gt_visual))


def events_to_matrix(events, class_index: dict[str, int], num_segments: int = 10) -> np.ndarray:
    """``(label, start, end)`` triples -> binary [C, T]: segment k is on when it holds the
    midpoint k + 0.5 of a range (whole seconds: ``start <= k < end``). Unknown labels are an error."""
    out = np.zeros((len(class_index), num_segments), dtype=np.int64)  # [C, T]
    mids = np.arange(num_segments) + 0.5
    for label, start, end in events:
        out[class_index[label], (mids >= start) & (mids < end)] = 1
    return out
