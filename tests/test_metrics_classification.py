"""Accuracy-style metrics, AVE segment accuracy and ARIG box IoU on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.metrics import (
    accuracy,
    ave_accuracy,
    box_grounding_scores,
    box_iou,
    events_to_segments,
    matching_accuracy,
    music_avqa_accuracy,
    option_accuracy,
    parse_avqa_type,
    uar,
    uar_war,
    war,
)


def test_accuracy_uar_war_by_hand():
    gt = ["anger", "anger", "anger", "sad", "happy"]
    pred = ["anger", "sad", None, "sad", "sad"]
    assert accuracy(pred, gt) == pytest.approx(2 / 5)
    assert war(pred, gt) == accuracy(pred, gt)
    # recalls: anger 1/3, sad 1/1, happy 0/1; a class only predicted (none here) would not count
    assert uar(pred, gt) == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert uar_war(pred, gt) == {"uar": pytest.approx(4 / 9), "war": pytest.approx(0.4)}


def test_uar_ignores_classes_only_predicted():
    assert uar(["x", "x"], ["a", "b"]) == 0.0
    assert uar(["a", "zzz"], ["a", "a"]) == pytest.approx(0.5)


def test_empty_and_mismatched_inputs_are_errors():
    with pytest.raises(ValueError, match="no samples"):
        accuracy([], [])
    with pytest.raises(ValueError, match="2 predictions but 1"):
        matching_accuracy([1, 2], [1])


def test_matching_and_option_accuracy():
    assert matching_accuracy([1, 2, None, 2], [1, 1, 2, 2]) == 0.5
    out = option_accuracy([0, 1, 3, None], [0, 2, 3, 1], ["Which", "Which", "Where", None])
    assert out == {"accuracy": 0.5, "type/Where": 1.0, "type/Which": 0.5}


def test_music_avqa_pools_modalities_not_mean_of_types():
    types = [
        '["Audio", "Counting"]',
        '["Audio", "Counting"]',
        '["Audio", "Comparative"]',
        ["Visual", "Location"],
        "Audio-Visual/Temporal",
        None,
    ]
    gt = ["two", "one", "yes", "left", "no", "yes"]
    pred = ["two", "one", "no", "left", "yes", "yes"]
    out = music_avqa_accuracy(pred, gt, types)
    assert out["Audio/Counting"] == 1.0 and out["Audio/Comparative"] == 0.0
    assert out["Audio"] == pytest.approx(2 / 3)  # pooled; the mean of the two types would be 0.5
    assert out["Visual"] == 1.0 and out["Audio-Visual"] == 0.0
    assert out["overall"] == pytest.approx(4 / 6)  # the untyped question counts in overall only


@pytest.mark.parametrize(
    "value,expected",
    [
        ('["Audio", "Counting"]', ("Audio", "Counting")),
        (["audio-visual", "Temporal"], ("Audio-Visual", "Temporal")),
        ("AV/Existential", ("Audio-Visual", "Existential")),
        ("Counting", None),
        ('["Smell", "Counting"]', None),
        ("[not json", None),
    ],
)
def test_parse_avqa_type(value, expected):
    assert parse_avqa_type(value) == expected


def test_ave_accuracy_one_video_equals_segment_accuracy():
    # one video x 10 segments, background = class 28 is a class like any other
    gt = np.array([[28, 28, 0, 0, 0, 0, 28, 28, 28, 28]])
    pred = np.array([[28, 0, 0, 0, 0, 28, 28, 28, 28, 5]])
    assert ave_accuracy(pred, gt) == pytest.approx(7 / 10)


def test_ave_accuracy_is_micro_over_segments():
    gt = np.zeros((2, 10), dtype=int)
    pred = np.zeros((2, 10), dtype=int)
    pred[0, :3] = 1
    assert ave_accuracy(pred, gt) == pytest.approx(17 / 20)
    with pytest.raises(ValueError):
        ave_accuracy(pred[:, :5], gt)


def test_events_to_segments_midpoint_rule():
    index = {"bell": 0, "dog": 1}
    seg = events_to_segments([("bell", 6, 8)], index, background=2)
    assert seg.tolist() == [2, 2, 2, 2, 2, 2, 0, 0, 2, 2]  # start <= k < end, AVE's labels_closs row
    seg = events_to_segments([("dog", 0.4, 2.6), ("bell", 2, 4), ("cat", 9, 10)], index, background=2)
    assert seg.tolist() == [1, 1, 1, 0, 2, 2, 2, 2, 2, -1]  # first event wins; unknown label -> -1


def test_box_iou_by_hand():
    assert box_iou([20, 20, 120, 120], [70, 20, 170, 120]) == pytest.approx(5000 / 15000)
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [10, 10, 20, 20]) == 0.0  # touching corners
    assert box_iou(None, [0, 0, 1, 1]) == 0.0
    assert box_iou([5, 5, 5, 9], [5, 5, 5, 9]) == 0.0  # no area


def test_box_grounding_scores():
    out = box_grounding_scores([[0, 0, 10, 10], None, [0, 0, 10, 20]], [[0, 0, 10, 10]] * 3)
    assert out["miou"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert out["success@0.5"] == pytest.approx(2 / 3)
    xs = 0.05 * np.arange(21)
    ys = [np.mean([v >= x for v in (1.0, 0.0, 0.5)]) for x in xs]
    assert out["auc"] == pytest.approx(np.trapezoid(ys, xs))
