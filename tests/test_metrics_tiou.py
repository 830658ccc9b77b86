"""UnAV-100 tIoU mAP (ActivityNet style) on hand-computed cases (benchmarks.md §7, §11.7)."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.metrics import UNAV_THRESHOLDS, interpolated_ap, segment_tiou, tiou_map


def test_thresholds_are_point_one_to_point_nine():
    assert list(UNAV_THRESHOLDS) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])


def test_segment_tiou():
    out = segment_tiou((2, 6), np.array([[2, 5], [7, 9], [0, 10], [6, 6]]))
    assert out.tolist() == pytest.approx([3 / 4, 0.0, 4 / 10, 0.0])


def test_perfect_predictions_give_one():
    gt = [("v1", "dog", 0, 4), ("v2", "car", 1, 3)]
    preds = [("v1", "dog", 0, 4, 0.9), ("v2", "car", 1, 3, 0.8)]
    assert tiou_map(preds, gt, [0.5, 0.9]) == {0.5: 1.0, 0.9: 1.0}


def test_hand_computed_two_class_case():
    gt = [("v1", "dog", 0, 4), ("v1", "car", 5, 9), ("v2", "dog", 2, 6)]
    preds = [("v1", "dog", 0, 4, 0.9), ("v1", "car", 5, 8, 0.5), ("v2", "dog", 2, 5, 0.8)]
    out = tiou_map(preds, gt)
    # dog: both TP up to t = 0.7 (tIoU 1 and 3/4) -> AP 1; at 0.8/0.9: TP then FP -> AP 1/2
    # car: tIoU 3/4 -> AP 1 up to 0.7, then 0
    assert [out[t] for t in UNAV_THRESHOLDS] == pytest.approx([1] * 7 + [0.25, 0.25])


def test_threshold_is_inclusive():
    gt = [("v", "a", 0, 2)]
    preds = [("v", "a", 0, 4, 1.0)]  # tIoU exactly 0.5
    assert tiou_map(preds, gt, [0.5, 0.6]) == {0.5: 1.0, 0.6: 0.0}


def test_interpolated_ap_by_hand():
    # TP, FP, TP over 3 ground truths: P = [1, 1/2, 2/3], R = [1/3, 1/3, 2/3]; envelope [1, 2/3, 2/3]
    assert interpolated_ap(np.array([1, 0.5, 2 / 3]), np.array([1 / 3, 1 / 3, 2 / 3])) == pytest.approx(
        1 / 3 + 1 / 3 * 2 / 3
    )
    gt = [("v1", "a", 0, 2), ("v2", "a", 0, 2), ("v3", "a", 0, 2)]
    preds = [("v1", "a", 0, 2, 0.9), ("v2", "a", 5, 7, 0.8), ("v3", "a", 0, 2, 0.7)]
    assert tiou_map(preds, gt, [0.5])[0.5] == pytest.approx(1 / 3 + 1 / 3 * 2 / 3)


def test_greedy_matching_by_score_across_videos_and_locking():
    gt = [("v1", "a", 0, 10)]
    # the higher-scored prediction takes the only ground truth; the second (a better tIoU!) is an FP
    preds = [("v1", "a", 0, 6, 0.2), ("v1", "a", 0, 9, 0.9)]
    # order by score: (0,9) TP -> P 1 R 1; (0,6) FP -> AP 1
    assert tiou_map(preds, gt, [0.5])[0.5] == 1.0
    preds = [("v1", "a", 0, 6, 0.9), ("v1", "a", 0, 9, 0.2)]
    # (0,6) first: TP at 0.5 (tIoU 0.6) and FP at 0.7; (0,9) then: GT locked at 0.5 -> FP; TP at 0.7
    out = tiou_map(preds, gt, [0.5, 0.7])
    assert out[0.5] == 1.0 and out[0.7] == pytest.approx(0.5)


def test_duplicate_ground_truth_removed_and_classes_from_ground_truth():
    gt = [("v", "a", 0, 2), ("v", "a", 0.0005, 2.0004), ("v", "b", 3, 5)]
    preds = [("v", "a", 0, 2, 1.0), ("v", "zzz", 3, 5, 1.0)]  # 'zzz' is not a GT class: ignored
    # class a: one GT after dedup, matched -> 1; class b: no predictions -> AP 0
    assert tiou_map(preds, gt, [0.5]) == {0.5: 0.5}


def test_prediction_in_video_without_that_class_is_false_positive():
    gt = [("v1", "a", 0, 2)]
    preds = [("v2", "a", 0, 2, 0.9), ("v1", "a", 0, 2, 0.5)]
    # FP then TP: P = [0, 1/2], R = [0, 1] -> AP = 1 * 1/2
    assert tiou_map(preds, gt, [0.5])[0.5] == pytest.approx(0.5)


def test_no_ground_truth_is_an_error():
    with pytest.raises(ValueError):
        tiou_map([("v", "a", 0, 1, 1.0)], [], [0.5])
