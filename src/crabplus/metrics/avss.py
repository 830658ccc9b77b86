"""AVSBench-semantic (AVSS) colour mIoU and F (benchmarks.md §3, official ``calc_color_miou_fscore``).

Not one of the release's 19 task flags, but the same benchmark family as S4/MS3; kept so a
semantic-mask run can be scored with the official definition:

- 71 classes, background = class 0 included. Labels count only where 0 <= g <= 70 (71, 255, … are
  ignored in the label area, as ``histc(min=1, max=71)`` on g + 1 does); a pixel with g < 0 (the
  official ``pred * (target + 1 > 0)``) is dropped from the prediction area too, while a pixel with
  g > 70 still counts in the prediction area. Predicted classes outside 0..70 are not counted.
- Per frame and class: IoU = inter / (union + 2.22e-16); P = inter / pred area and R = inter /
  label area with no epsilon, F = 1.3 P R / (0.3 P + R), NaN set to 0. Sums over all frames (padded
  frames included), with a per-class count of frames whose union is non-zero.
- Per class: sum / count (NaN for a never-seen class set to 0); the result is the mean over all
  classes, so unseen classes count as 0.
"""

from __future__ import annotations

import numpy as np

AVSS_CLASSES = 71
IOU_EPS = 2.22e-16


def avss_scores(pred, gt, num_classes: int = AVSS_CLASSES, beta2: float = 0.3) -> dict[str, float]:
    """``{"miou": …, "fscore": …}`` from class-index maps ``pred``, ``gt`` int [N, H, W]."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 3 or pred.shape != gt.shape or pred.shape[0] == 0:
        raise ValueError(f"avss_scores: expected pred and gt [N, H, W] of one shape, got {pred.shape}, {gt.shape}")
    sum_iou = np.zeros(num_classes)
    sum_f = np.zeros(num_classes)
    count = np.zeros(num_classes)
    for p, g in zip(pred, gt):
        p = p.ravel().astype(np.int64)
        g = g.ravel().astype(np.int64)
        lab_ok = (g >= 0) & (g < num_classes)
        pred_ok = (g >= 0) & (p >= 0) & (p < num_classes)
        area_pred = np.bincount(p[pred_ok], minlength=num_classes).astype(np.float64)  # [K]
        area_lab = np.bincount(g[lab_ok], minlength=num_classes).astype(np.float64)  # [K]
        inter = np.bincount(p[pred_ok & lab_ok & (p == g)], minlength=num_classes).astype(np.float64)
        union = area_pred + area_lab - inter
        sum_iou += inter / (IOU_EPS + union)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = inter / area_pred
            rec = inter / area_lab
            f = (1 + beta2) * prec * rec / (beta2 * prec + rec)
        sum_f += np.nan_to_num(f, nan=0.0)
        count += union > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        miou = np.nan_to_num(sum_iou / count, nan=0.0)
        fscore = np.nan_to_num(sum_f / count, nan=0.0)
    return {"miou": float(miou.mean()), "fscore": float(fscore.mean())}
