"""Sound-source localisation cIoU / AUC (benchmarks.md §8, §11.8) on hand cases."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.metrics import binarize_heatmap, ciou, flickr_gt_map, success_auc, vggss_gt_map


def test_vggss_map_is_binary_union_of_boxes():
    gt = vggss_gt_map([[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75], [-0.1, 0.9, 0.2, 1.0]], size=8)
    assert set(np.unique(gt)) == {0.0, 1.0}
    assert gt[0:4, 0:4].all() and gt[2:6, 2:6].all() and gt[7, 0] == 1 and gt[7, 7] == 0


def test_flickr_consensus_map_halves_and_clips():
    boxes = [[0, 0, 128, 128], [0, 0, 64, 64], [0, 0, 64, 64]]  # pixels of a 256 frame
    gt = flickr_gt_map(boxes, size=8)
    assert gt[0, 0] == 1.0  # three annotators: 3/2 clipped to 1
    assert gt[3, 3] == 0.5  # one annotator
    assert gt[6, 6] == 0.0


def test_binarize_keeps_pixels_above_the_median():
    heat = np.arange(16, dtype=float).reshape(4, 4)
    pred = binarize_heatmap(heat, size=4)
    assert pred.sum() == 7 and pred[3, 3] == 1 and pred[0, 0] == 0  # > sorted[8]: values 9..15
    flat = binarize_heatmap(np.ones((4, 4)), size=4)
    assert flat.sum() == 16  # the official code leaves a constant map unnormalised: 1 + h >= 1 is all foreground
    assert binarize_heatmap(-np.ones((4, 4)), size=4).sum() == 0  # 1 + h = 0 < 1: empty


def test_ciou_with_consensus_weights():
    gt = np.array([[1.0, 0.5], [0.0, 0.0]])
    pred = np.array([[1.0, 1.0], [1.0, 0.0]])
    # numerator 1 + 0.5; denominator sum(gt) 1.5 + predicted pixels outside the GT (1)
    assert ciou(pred, gt) == pytest.approx(1.5 / 2.5)


def test_success_rate_and_auc():
    out = success_auc([0.5, 0.2, 0.0, 1.0])
    assert out["ciou"] == 0.5
    xs = 0.05 * np.arange(21)
    ys = [np.mean([v >= x for v in (0.5, 0.2, 0.0, 1.0)]) for x in xs]
    assert out["auc"] == pytest.approx(np.trapezoid(ys, xs))
