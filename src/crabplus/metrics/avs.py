"""AVSBench S4/MS3 and Ref-AVS mask metrics (benchmarks.md §3, §4): J (mIoU), F (beta^2 = 0.3), null S.

Inputs are foreground probabilities in [0, 1] (the official code applies a sigmoid to logits first;
a hard mask from a segmenter is simply 0/1) and binary ground truths, both [N, H, W].

- J: the prediction is ``p > threshold`` (strict). A frame with an empty ground truth scores the
  fraction of pixels predicted background (its "intersection" is the true-negative pixels and its
  "union" every pixel). Frame IoU = inter / (union + 1e-7); J is the mean over frames.
- F: 255 thresholds ``linspace(0, 1 - 1e-10, 255)``, ``p >= t`` (non-strict); per frame and threshold
  precision = TP / (#pred + 1e-20), recall = TP / (#gt + 1e-20), F = (1 + b2) P R / (b2 P + R) with
  NaN set to 0. Frames with an empty ground truth are skipped. Within each batch of consecutive
  frames the F curves are averaged and the maximum over thresholds taken; a batch with no non-empty
  frame scores 0 and still counts; F is the mean over batches (official batches: 4 videos x 5
  frames = 20; Ref-AVS: one call per 10-frame sample).
- Ref-AVS null S: per sample sqrt(foreground pixels / all pixels) over its frames (``p > 0.5``),
  averaged over samples; lower is better.
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


def avs_miou(pred, gt, threshold: float = 0.5) -> float:
    """J: mean over frames of the frame IoU; ``pred`` float [N, H, W] probabilities, ``gt`` {0,1}."""
    return float(avs_frame_iou(pred, gt, threshold).mean())


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
    values = []
    for start in range(0, curves.shape[0], frames_per_batch):
        keep = counted[start:start + frames_per_batch]
        block = curves[start:start + frames_per_batch][keep]
        values.append(float(block.mean(axis=0).max()) if block.shape[0] else 0.0)
    if not values:
        raise ValueError("no frames")
    return float(np.mean(values))


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


def refavs_null_s(pred, threshold: float = 0.5) -> float:
    """Ref-AVS null-set S: mean over samples of sqrt(foreground / all pixels); ``pred`` float [S, F, H, W]."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 4 or pred.shape[0] == 0:
        raise ValueError(f"refavs_null_s: expected pred [S, F, H, W] with S >= 1, got {pred.shape}")
    return float(np.mean([null_s(sample, threshold) for sample in pred]))
