"""Box IoU for ARIG (audio-referred image grounding) in 224-pixel space.

The release has no ARIG scorer and Crab's own metric is not published with code (docs/evaluation.md),
so we report what a box target supports directly: the mean box IoU, the success rate at
IoU >= 0.5, and the AUC of the success rate over thresholds 0, 0.05, …, 1 (trapezoid rule, as the
SSL benchmarks' AUC). Boxes are ``[x1, y1, x2, y2]`` with continuous area (x2 - x1) * (y2 - y1): a
box covers pixels x1..x2-1, the same convention as slicing ``mask[y1:y2, x1:x2]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def box_iou(a: Sequence[float] | None, b: Sequence[float] | None) -> float:
    """IoU of two ``[x1, y1, x2, y2]`` boxes; 0 when either is missing or has no area."""
    if a is None or b is None:
        return 0.0
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    area_a = max(0.0, ax2 - ax1) * max(0.0, ay2 - ay1)
    area_b = max(0.0, bx2 - bx1) * max(0.0, by2 - by1)
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def box_grounding_scores(pred: Sequence[Sequence[float] | None], gt: Sequence[Sequence[float]]) -> dict[str, float]:
    """``{"miou", "success@0.5", "auc"}`` over samples; a missing prediction (None) has IoU 0."""
    if len(pred) != len(gt):
        raise ValueError(f"box_grounding_scores: {len(pred)} predictions but {len(gt)} ground truths")
    if not gt:
        raise ValueError("box_grounding_scores: no samples")
    ious = np.array([box_iou(p, g) for p, g in zip(pred, gt)])
    xs = 0.05 * np.arange(21)
    ys = np.array([(ious >= x).mean() for x in xs])
    return {"miou": float(ious.mean()), "success@0.5": float((ious >= 0.5).mean()), "auc": float(np.trapezoid(ys, xs))}
