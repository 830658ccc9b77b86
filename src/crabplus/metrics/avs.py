"""AVSBench S4/MS3 and Ref-AVS mask metrics (benchmarks.md §3, §4): J (mIoU), F (beta^2 = 0.3), null S.

Inputs are foreground probabilities in [0, 1] (the official code applies a sigmoid to logits first;
a hard mask from a segmenter is simply 0/1) and binary ground truths, both [N, H, W].

- J: the prediction is ``p > threshold`` (strict). A frame with an empty ground truth scores the
  fraction of pixels predicted background (its "intersection" is the true-negative pixels and its
  "union" every pixel). Frame IoU = inter / (union + 1e-7). The official driver makes one metric call
  per loader batch (S4/MS3: 4 videos x 5 frames = 20 frames) and averages the per-call frame means, so
  J is the mean over batches of the batch's mean frame IoU: a short last batch weighs as much as a
  full one (21 frames, 20 perfect and 1 wrong: J = (1 + 0) / 2, not 20 / 21).
- F: 255 thresholds ``linspace(0, 1 - 1e-10, 255)``, ``p >= t`` (non-strict); per frame and threshold
  precision = TP / (#pred + 1e-20), recall = TP / (#gt + 1e-20), F = (1 + b2) P R / (b2 P + R) with
  NaN set to 0. Frames with an empty ground truth are skipped. Within each batch of consecutive
  frames the F curves are averaged and the maximum over thresholds taken; a batch with no non-empty
  frame scores 0 and still counts; F is the mean over batches (official batches: 4 videos x 5
  frames = 20).
- Ref-AVS (official driver: loader batch 4, one call on 4 samples x 10 frames): J, F and the null-set
  S are per batch of 4 consecutive samples (metadata order), averaged over batches. Null S of a batch
  is sqrt(foreground pixels / all pixels) pooled over its frames (``p > 0.5``); lower is better.
  ``*_per_sample`` variants (one call per sample) are kept as clearly named extras.
"""

from __future__ import annotations

import numpy as np

NUM_THRESHOLDS = 255
IOU_EPS = 1e-7
F_EPS = 1e-20


def _masks(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt)
    if pred.ndim != 3 or pred.shape != gt.shape:
        raise ValueError(f"expected pred and gt of one shape [N, H, W], got {pred.shape} and {gt.shape}")
    if pred.shape[0] == 0:
        raise ValueError("no frames")
    return pred, gt != 0


def avs_frame_iou(pred, gt, threshold: float = 0.5) -> np.ndarray:
    """Per-frame IoU [N] with the empty-ground-truth rule (see the module docstring)."""
    pred, gt = _masks(pred, gt)
    p = pred > threshold  # [N, H, W] strict, as sigmoid(logit) > 0.5
    num_pixels = p.shape[1] * p.shape[2]
    inter = (p & gt).sum(axis=(1, 2)).astype(np.float64)  # [N]
    union = (p | gt).sum(axis=(1, 2)).astype(np.float64)
    empty = gt.sum(axis=(1, 2)) == 0
    inter[empty] = (~p[empty] & ~gt[empty]).sum(axis=(1, 2))
    union[empty] = num_pixels
    return inter / (union + IOU_EPS)


def batch_slices(n: int, size: int) -> list[slice]:
    """Consecutive batches of ``size`` items over ``n`` (the last one may be short)."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def mean_of_batch_means(values, size: int) -> float:
    """Mean over consecutive batches of ``size`` of each batch's mean (the official ``AverageMeter`` use)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no values")
    return float(np.mean([values[s].mean() for s in batch_slices(values.size, size)]))


def avs_miou(pred, gt, threshold: float = 0.5, frames_per_batch: int | None = None) -> float:
    """J: mean over batches of ``frames_per_batch`` frames of their mean frame IoU (None: one batch).

    ``pred`` float [N, H, W] probabilities, ``gt`` {0,1}. The official S4/MS3 batch is 20 frames.
    """
    iou = avs_frame_iou(pred, gt, threshold)
    return mean_of_batch_means(iou, frames_per_batch or iou.size)


def fscore_thresholds(num: int = NUM_THRESHOLDS) -> np.ndarray:
    return np.linspace(0.0, 1.0 - 1e-10, num)


def avs_fscore_curves(pred, gt, beta2: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame F curves [N, 255] and which frames count (non-empty ground truth) [N]."""
    pred, gt = _masks(pred, gt)
    n = pred.shape[0]
    th = fscore_thresholds()
    curves = np.zeros((n, th.size))
    nonempty = gt.reshape(n, -1).any(axis=1)
    for i in np.flatnonzero(nonempty):
        p = pred[i].ravel()
        g = gt[i].ravel()
        all_sorted = np.sort(p)
        pos_sorted = np.sort(p[g])
        n_pred = p.size - np.searchsorted(all_sorted, th, side="left")  # [255] pixels with p >= t
        tp = pos_sorted.size - np.searchsorted(pos_sorted, th, side="left")  # [255]
        prec = tp / (n_pred + F_EPS)
        rec = tp / (pos_sorted.size + F_EPS)
        with np.errstate(invalid="ignore", divide="ignore"):
            f = (1 + beta2) * prec * rec / (beta2 * prec + rec)
        curves[i] = np.nan_to_num(f, nan=0.0)
    return curves, nonempty


def avs_fscore_from_curves(curves, counted, frames_per_batch: int = 20) -> float:
    """F from per-frame curves: max of the mean curve of the counted frames per batch, mean over batches."""
    curves = np.asarray(curves, dtype=np.float64)
    counted = np.asarray(counted, dtype=bool)
    if frames_per_batch < 1:
        raise ValueError(f"frames_per_batch must be >= 1, got {frames_per_batch}")
    values = [batch_fscore(curves[s], counted[s]) for s in batch_slices(curves.shape[0], frames_per_batch)]
    if not values:
        raise ValueError("no frames")
    return float(np.mean(values))


def batch_fscore(curves, counted) -> float:
    """One official call's F: max over thresholds of the mean curve of the counted frames (0 if none)."""
    block = np.asarray(curves, dtype=np.float64)[np.asarray(counted, dtype=bool)]
    return float(block.mean(axis=0).max()) if block.shape[0] else 0.0


def avs_fscore(pred, gt, beta2: float = 0.3, frames_per_batch: int = 20) -> float:
    """F-score (see the module docstring); ``pred`` float [N, H, W] probabilities, ``gt`` {0,1}."""
    curves, nonempty = avs_fscore_curves(pred, gt, beta2)
    return avs_fscore_from_curves(curves, nonempty, frames_per_batch)


def null_s(pred_frames, threshold: float = 0.5) -> float:
    """One Ref-AVS null sample's S: sqrt(foreground / all pixels) over its frames [F, H, W]."""
    p = np.asarray(pred_frames, dtype=np.float64)
    if p.size == 0:
        raise ValueError("null_s: empty sample")
    return float(np.sqrt((p > threshold).sum() / p.size))


REFAVS_SAMPLES_PER_BATCH = 4
REFAVS_THRESHOLD = 0.4


def _samples(pred, name: str) -> np.ndarray:
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 4 or pred.shape[0] == 0:
        raise ValueError(f"{name}: expected [S, F, H, W] with S >= 1, got {pred.shape}")
    return pred


def refavs_null_s(pred, threshold: float = 0.5, samples_per_batch: int = REFAVS_SAMPLES_PER_BATCH) -> float:
    """Ref-AVS null-set S: per batch of samples sqrt(foreground / all pixels) pooled, mean over batches.

    ``pred`` float [S, F, H, W] in metadata order; the official batch is 4 samples.
    """
    pred = _samples(pred, "refavs_null_s")
    return float(
        np.mean(
            [
                null_s(pred[s].reshape(-1, *pred.shape[2:]), threshold)
                for s in batch_slices(pred.shape[0], samples_per_batch)
            ]
        )
    )


def refavs_null_s_per_sample(pred, threshold: float = 0.5) -> float:
    """Not the official number: the mean over samples of each sample's own S (one call per sample)."""
    return refavs_null_s(pred, threshold, samples_per_batch=1)


def refavs_scores(
    pred, gt, threshold: float = REFAVS_THRESHOLD, samples_per_batch: int = REFAVS_SAMPLES_PER_BATCH
) -> dict[str, float]:
    """Ref-AVS J and F per batch of samples (official: 4), plus ``fscore_per_sample`` (not official).

    ``pred`` float [S, F, H, W] probabilities and ``gt`` {0,1} [S, F, H, W], samples in metadata order.
    """
    pred = _samples(pred, "refavs_scores")
    gt = np.asarray(gt)
    if gt.shape != pred.shape:
        raise ValueError(f"refavs_scores: pred {pred.shape} and gt {gt.shape} differ")
    s_, f_ = pred.shape[:2]
    flat_p, flat_g = pred.reshape(s_ * f_, *pred.shape[2:]), gt.reshape(s_ * f_, *gt.shape[2:])
    iou = avs_frame_iou(flat_p, flat_g, threshold).reshape(s_, f_)  # [S, F]
    curves, counted = avs_fscore_curves(flat_p, flat_g)
    curves, counted = curves.reshape(s_, f_, -1), counted.reshape(s_, f_)  # [S, F, 255], [S, F]
    batches = batch_slices(s_, samples_per_batch)
    return {
        "miou": float(np.mean([iou[b].mean() for b in batches])),
        "fscore": float(
            np.mean([batch_fscore(curves[b].reshape(-1, curves.shape[2]), counted[b].ravel()) for b in batches])
        ),
        "fscore_per_sample": float(np.mean([batch_fscore(curves[i], counted[i]) for i in range(s_)])),
    }
