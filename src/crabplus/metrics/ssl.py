"""Sound-source localisation cIoU and AUC (benchmarks.md §8, LVS ``Evaluator.cal_CIOU``).

Not a task flag of the release; Crab+'s ARIG is scored with box IoU (:mod:`crabplus.metrics.box`).
Kept for the SSL benchmarks of the same family (VGG-SS, Flickr-SoundNet):

- ground-truth map at 224 x 224: VGG-SS boxes (normalised) become ``int(224 * max(v, 0))`` and their
  union is binary; Flickr boxes (pixels of a 256 frame) become ``int(224 * v / 256)``, are summed,
  halved and clipped to 1 (the annotator-consensus map {0, 0.5, 1});
- a heatmap is resized to 224 x 224 (bilinear) and binarised as the official ``test.py`` does, all in
  float32: n = min-max normalised ``-h`` (left unchanged when constant), x = 1 - n, th =
  ``sorted(x)[224 * 224 // 2]``; foreground where x > th or x >= 1 (the code sets x > th to 1, then
  x < 1 to 0, and counts x >= 0.5). So the maximum itself is foreground, and a constant heatmap with
  values >= 0 is all foreground (x = 1 + h >= 1), one with values < 0 empty. The float32 arithmetic
  matters: on 224-px maps float64 normalisation moves the median and changes images' cIoU;
- cIoU = sum(pred * gt) / (sum(gt) + sum(pred * (gt == 0))); the dataset "cIoU" is the fraction of
  images with cIoU >= 0.5, and AUC the trapezoid area under frac(cIoU >= 0.05 i), i = 0..20.
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 224


def vggss_gt_map(boxes, size: int = SIZE) -> np.ndarray:
    """Binary union of VGG-SS boxes ``[[x1, y1, x2, y2], …]`` in [0, 1] -> [size, size]."""
    out = np.zeros((size, size))
    for box in boxes:
        x1, y1, x2, y2 = (int(size * max(v, 0)) for v in box)
        out[y1:y2, x1:x2] += 1
    return (out > 0).astype(np.float64)


def flickr_gt_map(boxes, size: int = SIZE, frame: int = 256) -> np.ndarray:
    """Consensus map of several annotators' Flickr boxes (pixels of a ``frame`` image) -> {0, 0.5, 1}."""
    out = np.zeros((size, size))
    for box in boxes:
        x1, y1, x2, y2 = (int(size * v / frame) for v in box)
        out[y1:y2, x1:x2] += 1
    return np.minimum(out / 2, 1.0)


def binarize_heatmap(heatmap, size: int = SIZE) -> np.ndarray:
    """Resize (bilinear) and binarise at the median in float32 as the official test -> {0, 1} [size, size]."""
    h = cv2.resize(np.asarray(heatmap, dtype=np.float32), dsize=(size, size), interpolation=cv2.INTER_LINEAR)
    v = -h  # float32 [size, size]
    vmin, vmax = v.min(), v.max()
    if vmax - vmin != 0:
        v = (v - vmin) / (vmax - vmin)  # float32 arithmetic, as the official normalize_img
    x = np.float32(1) - v
    threshold = np.sort(x.ravel())[size * size // 2]
    # official: x > th -> 1, then x < 1 -> 0, then >= 0.5 counts; values >= 1 (the maximum, a constant map) stay on
    return ((x > threshold) | (x >= 1)).astype(np.float64)


def ciou(pred, gt_map) -> float:
    """One image's consensus IoU of a binary prediction against a (possibly fractional) GT map."""
    pred = np.asarray(pred, dtype=np.float64)
    gt_map = np.asarray(gt_map, dtype=np.float64)
    denom = gt_map.sum() + (pred * (gt_map == 0)).sum()
    return float((pred * gt_map).sum() / denom) if denom > 0 else 0.0


def success_auc(values) -> dict[str, float]:
    """``{"ciou": frac(v >= 0.5), "auc": trapezoid area of frac(v >= 0.05 i), i = 0..20}``."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("success_auc: no values")
    xs = 0.05 * np.arange(21)
    ys = np.array([(v >= x).mean() for x in xs])
    return {"ciou": float((v >= 0.5).mean()), "auc": float(np.trapezoid(ys, xs))}
