"""AVSBench J/F, Ref-AVS null S and AVSS colour mIoU/F on hand cases (benchmarks.md §3, §4, §11.3-5)."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.metrics import (
    avs_frame_iou,
    avs_fscore,
    avs_fscore_curves,
    avs_miou,
    avss_scores,
    refavs_null_s,
    refavs_null_s_per_sample,
)
from crabplus.metrics.avs import F_EPS, fscore_thresholds

ONES = np.ones((1, 4, 4))
ZEROS = np.zeros((1, 4, 4))


@pytest.mark.parametrize(
    "pred,gt,expected",
    [
        (ONES, ONES, 1.0),  # all on, all on
        (ZEROS, ZEROS, 1.0),  # empty-GT rule: every pixel a true negative
        (ZEROS, ONES, 0.0),
        (ONES, ZEROS, 0.0),  # empty GT, every pixel a false positive
    ],
)
def test_miou_edge_cases(pred, gt, expected):
    assert avs_miou(pred, gt) == pytest.approx(expected, abs=1e-6)


def test_miou_half_and_half_and_eps():
    pred = np.zeros((1, 4, 4))
    pred[0, :, :2] = 1
    assert avs_miou(pred, ONES) == pytest.approx(8 / (16 + 1e-7), abs=0)
    # empty GT with 4 false-positive pixels: 12 true negatives over all 16 pixels
    fp = np.zeros((1, 4, 4))
    fp[0, 0] = 1
    assert avs_frame_iou(fp, ZEROS)[0] == pytest.approx(12 / (16 + 1e-7), abs=0)


def test_miou_threshold_is_strict_and_mean_is_over_frames():
    pred = np.full((2, 2, 2), 0.5)
    gt = np.ones((2, 2, 2))
    assert avs_miou(pred, gt) == 0.0  # 0.5 is not > 0.5
    assert avs_miou(pred, gt, threshold=0.4) == pytest.approx(1.0, abs=1e-6)  # Ref-AVS threshold
    pred[1] = 0.0
    assert avs_miou(pred, gt, threshold=0.4) == pytest.approx(0.5, abs=1e-6)


def test_fscore_hard_masks_by_hand():
    gt = np.zeros((1, 4, 4))
    gt[0, :2, :2] = 1  # 4 pixels
    assert avs_fscore(gt.copy(), gt) == pytest.approx(1.0, abs=1e-9)
    pred = np.zeros((1, 4, 4))
    pred[0, :2, :] = 1  # 8 pixels holding the 4 -> P 0.5, R 1
    assert avs_fscore(pred, gt) == pytest.approx(1.3 * 0.5 / (0.3 * 0.5 + 1), abs=1e-9)
    assert avs_fscore(np.zeros((1, 4, 4)), gt) == pytest.approx(4 / 16 * 1.3 / (0.3 * 4 / 16 + 1), abs=1e-9)
    # (only the threshold 0 makes every pixel positive: P = 4/16, R = 1; the max keeps that)


def test_fscore_takes_max_of_mean_curve_not_mean_of_maxima():
    gt = np.zeros((2, 1, 3))
    gt[:, 0, 0] = 1
    pred = np.array([[[0.9, 0.5, 0.0]], [[0.3, 0.0, 0.0]]])
    # frame A: t <= 0.5 -> P 1/2, R 1, F 0.565; t in (0.5, 0.9] -> F 1. frame B: t in (0, 0.3] -> F 1, above -> 0
    f_a_low = 1.3 * 0.5 / (0.3 * 0.5 + 1)
    assert avs_fscore(pred, gt) == pytest.approx((f_a_low + 1) / 2, abs=1e-9)


def test_fscore_skips_empty_truth_and_averages_batches():
    gt = np.zeros((4, 2, 2))
    gt[0, 0, 0] = 1
    pred = gt.copy()
    pred[1] = 1  # a false positive on an empty-GT frame: skipped by F
    assert avs_fscore(pred, gt, frames_per_batch=4) == pytest.approx(1.0, abs=1e-9)
    # batches of 2: (frame 0, skipped) -> 1.0; (empty, empty) -> 0 and still counts
    assert avs_fscore(pred, gt, frames_per_batch=2) == pytest.approx(0.5, abs=1e-9)
    assert avs_fscore(np.zeros((3, 2, 2)), np.zeros((3, 2, 2))) == 0.0


def _reference_f(pred, gt, beta2=0.3, frames_per_batch=20):
    th = fscore_thresholds()
    batches = []
    for s in range(0, pred.shape[0], frames_per_batch):
        curves = []
        for p, g in zip(pred[s : s + frames_per_batch], gt[s : s + frames_per_batch]):
            if g.mean() == 0:
                continue
            f = np.zeros(th.size)
            for i, t in enumerate(th):
                b = (p >= t).astype(float)
                tp = (b * g).sum()
                prec, rec = tp / (b.sum() + F_EPS), tp / (g.sum() + F_EPS)
                with np.errstate(invalid="ignore"):
                    f[i] = (1 + beta2) * prec * rec / (beta2 * prec + rec)
            curves.append(np.nan_to_num(f))
        batches.append(np.mean(curves, axis=0).max() if curves else 0.0)
    return float(np.mean(batches))


def test_fscore_matches_threshold_loop_on_random_probabilities():
    rng = np.random.default_rng(0)
    pred = rng.random((7, 6, 5))
    gt = (rng.random((7, 6, 5)) < 0.3).astype(float)
    gt[2] = 0
    assert avs_fscore(pred, gt, frames_per_batch=3) == pytest.approx(_reference_f(pred, gt, 0.3, 3), abs=1e-12)
    curves, counted = avs_fscore_curves(pred, gt)
    assert curves.shape == (7, 255) and counted.tolist() == [True, True, False, True, True, True, True]


def test_refavs_null_s_by_hand():
    pred = np.zeros((2, 2, 2, 2))
    pred[1, 0, 0, :] = 0.9  # 2 of 8 pixels of sample 2
    pred[1, 1, 0, 0] = 0.5  # not > 0.5
    assert refavs_null_s(pred) == pytest.approx(np.sqrt(2 / 16))  # one batch of 2 samples: pooled
    assert refavs_null_s(pred, samples_per_batch=1) == pytest.approx((0 + np.sqrt(2 / 8)) / 2)
    assert refavs_null_s_per_sample(pred) == pytest.approx((0 + np.sqrt(2 / 8)) / 2)
    with pytest.raises(ValueError):
        refavs_null_s(np.zeros((2, 2, 2)))


def test_avss_background_included_ignored_labels_and_unseen_classes():
    gt = np.array([[[0, 0], [1, 255]]])
    pred = np.array([[[0, 1], [1, 1]]])
    out = avss_scores(pred, gt, num_classes=3)
    # class 0: inter 1, pred 1, lab 2 -> IoU 1/2, P 1, R 1/2, F 1.3*0.5/(0.3+0.5)
    # class 1: inter 1, pred 3 (the pixel labelled 255 still counts), lab 1 -> IoU 1/3, P 1/3, R 1, F
    # class 2: never present -> count 0 -> 0, still in the mean over all classes
    f0 = 1.3 * 1 * 0.5 / (0.3 * 1 + 0.5)
    f1 = 1.3 * (1 / 3) * 1 / (0.3 / 3 + 1)
    assert out["miou"] == pytest.approx((0.5 + 1 / 3 + 0) / 3)
    assert out["fscore"] == pytest.approx((f0 + f1) / 3)


def test_avss_frames_accumulate_with_union_count():
    gt = np.array([[[1, 1]], [[0, 0]]])  # the second frame is a padded all-background frame
    pred = np.array([[[1, 0]], [[0, 0]]])
    out = avss_scores(pred, gt, num_classes=2)
    # class 0: frame 1 inter 0 pred 1 lab 0 -> IoU 0 (union 1); frame 2 IoU 1 -> 1/2 over 2 frames
    # class 1: frame 1 IoU 1/2 (counted), frame 2 union 0 (not counted) -> 1/2
    assert out["miou"] == pytest.approx((0.5 + 0.5) / 2)
