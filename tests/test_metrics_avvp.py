"""AVVP segment- and event-level F: hand cases for every edge case of benchmarks.md §2/§11, and random
inputs against a direct loop-for-loop transcription of the official per-video procedure."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.metrics import avvp_scores, avvp_video_scores, event_counts, extract_events, match_events
from crabplus.metrics.avvp import SCORE_KEYS


def test_extract_events_runs():
    assert extract_events([1, 1, 0, 1, 0, 0, 0, 0, 0, 0]) == [(0, 2), (3, 4)]
    assert extract_events([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]) == [(8, 10)]  # a run ending at t = 9
    assert extract_events([0] * 10) == []
    assert extract_events([1] * 10) == [(0, 10)]


def test_iou_of_exactly_half_matches():
    # pred [0, 4) vs gt [0, 2): IoU = 2 / 4 = 0.5 -> a match (inclusive)
    assert event_counts([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]) == (1, 0, 0)
    # pred [0, 5) vs gt [0, 2): IoU = 0.4 -> FP and FN
    assert event_counts([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]) == (0, 1, 1)


def test_matching_is_not_one_to_one():
    # two predictions reaching the same ground-truth event are both true positives
    assert match_events([(0, 4), (1, 4)], [(0, 4)]) == (2, 0, 0)
    # one prediction covering two ground-truth events: TP once, and each GT it reaches is no FN
    assert match_events([(0, 2)], [(0, 2), (0, 3)]) == (1, 0, 0)
    assert match_events([], [(0, 2)]) == (0, 0, 1)
    assert match_events([(0, 2)], []) == (0, 1, 0)


def _video(audio_rows: dict, visual_rows: dict, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    a = np.zeros((1, classes, 10), dtype=int)
    v = np.zeros((1, classes, 10), dtype=int)
    for c, row in audio_rows.items():
        a[0, c] = row
    for c, row in visual_rows.items():
        v[0, c] = row
    return a, v


def test_empty_prediction_and_empty_truth_score_one():
    z = np.zeros((1, 25, 10), dtype=int)
    assert avvp_scores(z, z, z, z) == {k: 1.0 for k in SCORE_KEYS}


def test_segment_level_by_hand():
    pa, pv = _video({0: [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]}, {1: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]})
    ga, gv = _video({0: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]}, {1: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]})
    s = avvp_scores(pa, pv, ga, gv)
    # audio: class 0 TP 1, FP 1 -> F = 2/3 (classes 1, 2 empty on both sides are skipped)
    assert s["segment_audio"] == pytest.approx(2 / 3)
    assert s["segment_visual"] == pytest.approx(1.0)
    # audio-visual = AND per class: empty in prediction and truth -> 1.0
    assert s["segment_av"] == pytest.approx(1.0)
    assert s["segment_type"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    # Event@AV pools counts per class: class 0 (TP 1, FP 1) -> 2/3, class 1 (TP 1) -> 1; mean 5/6
    assert s["segment_event"] == pytest.approx(5 / 6)
    # event level: audio class 0 pred run [0,2) vs gt [0,1): IoU 0.5 -> TP -> F 1
    assert s["event_audio"] == pytest.approx(1.0)


def test_type_at_av_is_mean_of_the_three_dataset_means():
    rng = np.random.default_rng(3)
    arrays = [(rng.random((4, 5, 10)) < 0.3).astype(int) for _ in range(4)]
    per_video = avvp_video_scores(*arrays)
    s = avvp_scores(*arrays)
    for level in ("segment", "event"):
        means = [per_video[f"{level}_{k}"].mean() for k in ("audio", "visual", "av")]
        assert s[f"{level}_type"] == pytest.approx(np.mean(means))
        assert s[f"{level}_event"] == pytest.approx(per_video[f"{level}_event"].mean())


# --- a direct transcription of the official procedure, for random cross-checks --------------------


def _ref_f(tp, fp, fn):
    kept = [2 * tp[c] / (2 * tp[c] + fn[c] + fp[c]) for c in range(len(tp)) if tp[c] + fp[c] != 0 or tp[c] + fn[c] != 0]
    return 1.0 if not kept else float(np.mean(kept))


def _ref_runs(row):
    events, start = [], None
    for t, x in enumerate(list(row) + [0]):
        if x and start is None:
            start = t
        if not x and start is not None:
            mask = np.zeros(len(row))
            mask[start:t] = 1
            events.append(mask)
            start = None
    return events


def _ref_event_counts(p_row, g_row):
    pe, ge = _ref_runs(p_row), _ref_runs(g_row)
    tp = fp = fn = 0
    for x1 in pe:
        if any(np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2) for x2 in ge):
            tp += 1
        else:
            fp += 1
    for x2 in ge:
        if not any(np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2) for x1 in pe):
            fn += 1
    return tp, fp, fn


def _reference(pa, pv, ga, gv):
    out = {k: [] for k in SCORE_KEYS if not k.endswith("_type")}
    for i in range(pa.shape[0]):
        pred = {"audio": pa[i], "visual": pv[i], "av": pa[i] * pv[i]}
        gt = {"audio": ga[i], "visual": gv[i], "av": ga[i] * gv[i]}
        counts = {}
        for k in ("audio", "visual", "av"):
            tp = (pred[k] * gt[k]).sum(1)
            fn = ((1 - pred[k]) * gt[k]).sum(1)
            fp = (pred[k] * (1 - gt[k])).sum(1)
            out[f"segment_{k}"].append(_ref_f(tp, fp, fn))
            counts[k] = (tp, fp, fn)
        out["segment_event"].append(_ref_f(*(counts["audio"][j] + counts["visual"][j] for j in range(3))))
        ev = {}
        for k in ("audio", "visual", "av"):
            c = np.array([_ref_event_counts(pred[k][n], gt[k][n]) for n in range(pred[k].shape[0])])
            ev[k] = (c[:, 0], c[:, 1], c[:, 2])
            out[f"event_{k}"].append(_ref_f(*ev[k]))
        out["event_event"].append(_ref_f(*(ev["audio"][j] + ev["visual"][j] for j in range(3))))
    res = {k: float(np.mean(v)) for k, v in out.items()}
    for level in ("segment", "event"):
        res[f"{level}_type"] = (res[f"{level}_audio"] + res[f"{level}_visual"] + res[f"{level}_av"]) / 3
    return res


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5])
def test_random_matrices_match_direct_transcription(sparsity):
    rng = np.random.default_rng(int(sparsity * 10))
    arrays = [(rng.random((6, 25, 10)) < sparsity).astype(int) for _ in range(4)]
    arrays[1][0] = 0  # one video with an all-zero visual prediction
    arrays[2][1] = 0  # and one with an all-zero audio truth
    ours = avvp_scores(*arrays)
    ref = _reference(*arrays)
    for key in SCORE_KEYS:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
        assert 0.0 <= ours[key] <= 1.0


def test_shape_errors():
    with pytest.raises(ValueError):
        avvp_scores(np.zeros((1, 2, 10)), np.zeros((1, 2, 10)), np.zeros((1, 2, 10)), np.zeros((1, 3, 10)))
    with pytest.raises(ValueError, match="no videos"):
        z = np.zeros((0, 2, 10))
        avvp_scores(z, z, z, z)
