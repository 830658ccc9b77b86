"""Our metrics equal the benchmarks' official procedures (issue 16): each discrepancy's minimal example with
the authors' value, and property tests against the plain re-statement of each official definition in
``benchmarks/restated.py`` on random inputs."""

from __future__ import annotations

import importlib.util
import itertools
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crabplus.evaluate.segscore import FrameStats
from crabplus.metrics import (
    avs_fscore,
    avs_fscore_curves,
    avs_miou,
    avss_scores,
    binarize_heatmap,
    ciou,
    refavs_null_s,
    refavs_null_s_per_sample,
    refavs_scores,
    tiou_map,
    vggss_gt_map,
)
from crabplus.schema.registry import DATASETS
from crabplus.tasks.families import family_of
from crabplus.tasks.parsers import parse_prediction

_SPEC = importlib.util.spec_from_file_location("restated", Path(__file__).parents[1] / "benchmarks" / "restated.py")
restated = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(restated)

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# 1. Ref-AVS: F and null S per 4-sample batch
# ---------------------------------------------------------------------------------------------


def _refavs_example() -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((4, 10, 4, 4))
    gt[0, :, 1:3, 1:3] = 1  # sample 0: a 2x2 square in all 10 frames
    gt[1:, 0, 1:3, 1:3] = 1  # samples 1-3: one frame with it, 9 empty frames
    pred = np.zeros_like(gt)
    pred[0] = gt[0]  # sample 0 perfect, the others predict nothing
    return pred, gt


def test_refavs_fscore_is_per_four_sample_batch():
    pred, gt = _refavs_example()
    out = refavs_scores(pred, gt)
    assert out["fscore"] == pytest.approx(10 / 13)  # official 0.769: one call, 13 counted frames
    f0 = 1.3 * 0.25 / (0.3 * 0.25 + 1)  # threshold 0 predicts every pixel: P 1/4, R 1
    assert out["fscore_per_sample"] == pytest.approx((1 + 3 * f0) / 4)  # the old 0.477
    assert round(out["fscore"], 3) == 0.769 and round(out["fscore_per_sample"], 3) == 0.477


def test_refavs_null_s_is_pooled_per_batch():
    pred = np.zeros((4, 10, 4, 4))
    pred[0] = 1.0  # sample 0 predicts every pixel, samples 1-3 nothing
    assert refavs_null_s(pred) == pytest.approx(0.5)  # official: sqrt(pooled foreground fraction)
    assert refavs_null_s_per_sample(pred) == pytest.approx(0.25)


def _refavs_stats(pred: np.ndarray, gt: np.ndarray, split: str = "test_s") -> list[FrameStats]:
    out = []
    for s, f in itertools.product(range(pred.shape[0]), range(pred.shape[1])):
        if gt is None:
            out.append(
                FrameStats(
                    True,
                    exists_gt=False,
                    exists_correct=True,
                    pixels=pred[s, f].size,
                    foreground=int((pred[s, f] > 0.5).sum()),
                    group=f"s{s}",
                    split=split,
                )
            )
            continue
        curve = avs_fscore_curves(pred[s, f][None], gt[s, f][None])[0][0]
        iou = restated.mask_iou_call(pred[s, f][None], gt[s, f][None], 0.4)
        out.append(
            FrameStats(
                True,
                iou=iou,
                curve=curve,
                counted=bool(gt[s, f].any()),
                exists_gt=True,
                exists_correct=True,
                group=f"s{s}",
                split=split,
            )
        )
    return out


def test_report_aggregation_batches_refavs_samples():
    pred, gt = _refavs_example()
    null = np.zeros((4, 10, 4, 4))
    null[0] = 1.0
    score = family_of(DATASETS["ref_avs"]).aggregate(_refavs_stats(pred, gt) + _refavs_stats(null, None, "test_n"))
    assert score.metrics["fscore"] == pytest.approx(10 / 13)
    assert score.metrics["null_s"] == pytest.approx(0.5) and score.metrics["null_s_per_sample"] == pytest.approx(0.25)


@FAST
@given(st.integers(1, 9), st.integers(1, 3), st.integers(0, 10_000))
def test_refavs_matches_the_restated_driver(samples, frames, seed):
    rng = np.random.default_rng(seed)
    gt = (rng.random((samples, frames, 3, 3)) < rng.choice([0.0, 0.3, 0.6])).astype(float)
    pred = np.where(rng.random(gt.shape) < 0.5, rng.random(gt.shape), gt)  # soft and hard values
    per_call = 4 * frames
    fp, fg = pred.reshape(-1, 3, 3), gt.reshape(-1, 3, 3)
    out = refavs_scores(pred, gt)
    assert out["miou"] == pytest.approx(
        restated.per_batch(restated.mask_iou_call, fp, fg, per_call, threshold=0.4), abs=1e-12
    )
    assert out["fscore"] == pytest.approx(restated.per_batch(restated.fmeasure_call, fp, fg, per_call), abs=1e-12)
    assert refavs_null_s(pred) == pytest.approx(restated.per_batch(restated.null_s_call, fp, None, per_call), abs=1e-12)


# ---------------------------------------------------------------------------------------------
# 2. S4 / MS3 J per 20-frame batch
# ---------------------------------------------------------------------------------------------


def test_s4_j_is_the_mean_of_batch_means():
    gt = np.ones((21, 2, 2))
    pred = gt.copy()
    pred[20] = 0  # the 21st frame (alone in the second batch) predicts nothing
    assert avs_miou(pred, gt, frames_per_batch=20) == pytest.approx(0.5, abs=1e-6)  # official
    assert avs_miou(pred, gt) == pytest.approx(20 / 21, abs=1e-6)  # one call: the frame mean
    stats = [FrameStats(True, iou=float(i < 20), curve=np.zeros(255), counted=True) for i in range(21)]
    assert family_of(DATASETS["s4"]).aggregate(stats, 20).metrics["miou"] == pytest.approx(0.5)


@FAST
@given(st.integers(1, 45), st.integers(1, 25), st.integers(0, 10_000))
def test_s4_j_and_f_match_the_restated_driver(n, batch, seed):
    rng = np.random.default_rng(seed)
    gt = (rng.random((n, 3, 3)) < rng.choice([0.0, 0.2, 0.7])).astype(float)
    pred = np.where(rng.random(gt.shape) < 0.5, rng.random(gt.shape), 1 - gt)
    assert avs_miou(pred, gt, frames_per_batch=batch) == pytest.approx(
        restated.per_batch(restated.mask_iou_call, pred, gt, batch), abs=1e-12
    )
    assert avs_fscore(pred, gt, frames_per_batch=batch) == pytest.approx(
        restated.per_batch(restated.fmeasure_call, pred, gt, batch), abs=1e-12
    )


# ---------------------------------------------------------------------------------------------
# 3-4. UnAV-100: exact tie-averaged AP; duplicate ground truth within <= 1e-3
# ---------------------------------------------------------------------------------------------

# one class, 4 predictions [0, 10] with scores [1, 1, 0.5, 0.5]; the 2nd and 3rd each hit their own
# ground truth; two more ground truths are never predicted (4 ground truths)
_TIE_PREDS = [("v0", "a", 0, 10, 1.0), ("v1", "a", 0, 10, 1.0), ("v2", "a", 0, 10, 0.5), ("v3", "a", 0, 10, 0.5)]
_TIE_GT = [("v1", "a", 0, 10), ("v2", "a", 0, 10), ("v4", "a", 0, 10), ("v5", "a", 0, 10)]


def test_unav_tied_scores_average_over_orders():
    # the four orders of the two tied pairs: AP 1/4, 1/3 (numpy 2.4's order: the official 0.333), 3/8, 5/12
    gts = [(g[0], g[2], g[3]) for g in _TIE_GT]
    orders = sorted(
        restated.ap_in_order(o, gts, 0.1) for o in restated.tie_orders([(p[0], p[2], p[3], p[4]) for p in _TIE_PREDS])
    )
    assert orders == pytest.approx([1 / 4, 1 / 3, 3 / 8, 5 / 12])
    assert tiou_map(_TIE_PREDS, _TIE_GT, [0.1])[0.1] == pytest.approx(np.mean(orders))  # 0.34375
    assert tiou_map(_TIE_PREDS, _TIE_GT, [0.1])[0.1] == pytest.approx(0.34375)
    assert tiou_map(_TIE_PREDS, _TIE_GT, [0.1], ties="reversed")[0.1] == pytest.approx(0.375)  # the old number


def test_unav_average_refuses_order_dependent_labels():
    preds = [("v", "a", 0, 10, 1.0), ("v", "a", 0, 9, 1.0)]  # one video, two tied predictions: who takes the GT?
    with pytest.raises(ValueError, match="ties='reversed'"):
        tiou_map(preds, [("v", "a", 0, 10)], [0.5])
    assert tiou_map(preds, [("v", "a", 0, 10)], [0.5], ties="reversed")[0.5] == 1.0
    with pytest.raises(ValueError):
        tiou_map(preds, [("v", "a", 0, 10)], [0.5], ties="numpy")


def test_unav_duplicate_ground_truth_tolerance_is_inclusive():
    gt = [("v", "a", 0, 10), ("v", "a", 0.001, 10)]
    assert tiou_map([("v", "a", 0, 10, 1.0)], gt, [0.5]) == {0.5: 1.0}  # official: one GT after dedup
    assert len(restated.dedupe_official(gt)) == 1


@st.composite
def _unav_case(draw):
    videos = [f"v{i}" for i in range(draw(st.integers(1, 4)))]
    gts = [
        (draw(st.sampled_from(videos)), draw(st.sampled_from("ab")), s, s + draw(st.integers(1, 4)))
        for s in draw(st.lists(st.integers(0, 6), min_size=1, max_size=4))
    ]
    preds = []
    for label in "ab":
        for score in (1.0, 0.5, 1 / 3):  # no video has two tied predictions of one class
            for v in draw(st.lists(st.sampled_from(videos), unique=True, max_size=2)):
                s = draw(st.integers(0, 6))
                preds.append((v, label, s, s + draw(st.integers(1, 4)), score))
    return preds, gts


@FAST
@given(_unav_case())
def test_unav_average_equals_every_order_enumerated(case):
    preds, gts = case
    thresholds = [0.1, 0.5, 0.7]
    ours = tiou_map(preds, gts, thresholds)
    ref = restated.unav_map_all_orders(preds, gts, thresholds)
    for t in thresholds:
        assert ours[t] == pytest.approx(ref[t], abs=1e-12)


# ---------------------------------------------------------------------------------------------
# 5. Sound-source localisation: constant maps, float32 normalisation and median
# ---------------------------------------------------------------------------------------------


def test_ssl_constant_non_negative_heatmap_is_all_foreground():
    pred = binarize_heatmap(np.zeros((7, 7)))
    assert ciou(pred, vggss_gt_map([[0.25, 0.25, 0.75, 0.75]])) == pytest.approx(0.25)  # official 0.25


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["gauss", "uniform", "constant", "steps"]))
def test_ssl_binarize_matches_the_restated_float32_test(seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "gauss":  # smooth maps with many near-equal values, where float32 vs float64 matters
        y, x = np.mgrid[0:224, 0:224]
        cx, cy, sd = rng.uniform(0, 224, 3)
        heat = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (sd + 5) ** 2)).astype(np.float32)
    elif kind == "uniform":
        heat = rng.random((7, 7)).astype(np.float32)
    elif kind == "constant":
        heat = np.full((7, 7), rng.uniform(-2, 2), dtype=np.float32)
    else:
        heat = rng.integers(0, 3, (14, 14)).astype(np.float32)
    resized = cv2.resize(heat, dsize=(224, 224), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(binarize_heatmap(heat), restated.lvs_binarize(resized))


# ---------------------------------------------------------------------------------------------
# 6. AVSS labels outside 0..70
# ---------------------------------------------------------------------------------------------


def test_avss_label_71_ignored_and_negative_label_drops_the_prediction():
    assert avss_scores(np.array([[[70, 70]]]), np.array([[[70, 71]]]))["miou"] == pytest.approx(0.5 / 71)  # 0.007042
    # GT -1 under a predicted 5: the pixel is dropped from the prediction as well
    assert avss_scores(np.array([[[5, 5]]]), np.array([[[5, -1]]]))["miou"] == pytest.approx(1 / 71)


@FAST
@given(st.integers(1, 3), st.integers(0, 10_000))
def test_avss_matches_the_restated_histograms(n, seed):
    rng = np.random.default_rng(seed)
    gt = rng.choice([-1, 0, 1, 2, 69, 70, 71, 255], size=(n, 3, 4))
    pred = rng.choice([0, 1, 2, 69, 70], size=(n, 3, 4))
    ours, ref = avss_scores(pred, gt), restated.avss_official(pred, gt)
    assert ours["miou"] == pytest.approx(ref["miou"], abs=1e-12)
    assert ours["fscore"] == pytest.approx(ref["fscore"], abs=1e-12)


# ---------------------------------------------------------------------------------------------
# 7. The release's own acceptance of S4 / Ref-AVS texts
# ---------------------------------------------------------------------------------------------


def test_release_acceptance_examples():
    box_only = parse_prediction("s4", "<answer>dog</answer> [10,10,100,100]")
    assert box_only.parsed and not box_only.release_valid  # the release: insufficient_coordinates
    assert parse_prediction("s4", "[10,10,100,100] [50,50]").release_valid
    upper = parse_prediction("ref_avs", "<answer>True</answer> dog [10,10,100,100]")
    assert upper.parsed and not upper.release_valid  # the release matches the tag case-sensitively
    late_false = parse_prediction("ref_avs", "no object here</s><answer>false</answer>")
    assert late_false.release_valid  # the release reads the false tag in the whole text


_FRAGMENTS = [
    "<answer>true</answer>",
    "<answer>false</answer>",
    "<answer>True</answer>",
    "<answer>FALSE</answer>",
    "</s>",
    "[10,10,100,100]",
    "[0,0,223,223]",
    "[5,5,224,100]",
    "[50,60]",
    "[223,0]",
    "[224,3]",
    "[ 5, 6]",
    "[1.5,2]",
    "dog",
    " ",
    "\n",
    "<answer>dog</answer>",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=8))
def test_release_acceptance_matches_the_restated_scripts(parts):
    text = " ".join(parts)
    assert parse_prediction("s4", text).release_valid == restated.release_s4_valid(text)
    assert parse_prediction("ms3", text).release_valid == restated.release_s4_valid(text)
    assert parse_prediction("ref_avs", text).release_valid == restated.release_refavs_valid(text)


# ---------------------------------------------------------------------------------------------
# 8. Captions with line separators
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for the PTB tokenizer")
def test_caption_line_separators_do_not_shift_the_tokens():
    from crabplus.metrics import caption_scores

    refs = [["a dog barks at the mailman"], ["rain falls on a tin roof"], ["a man plays the guitar"]]
    plain = caption_scores(["a dog barks at the mailman", "rain on a roof", "a man plays guitar"], refs, meteor=False)
    broken = caption_scores(
        ["a dog barks\rat the mailman", "rain on a\u2028roof", "a man plays guitar"],
        [["a dog barks at the\u2029mailman"], ["rain falls on\x85a tin roof"], refs[2]],
        meteor=False,
    )
    assert broken == plain
