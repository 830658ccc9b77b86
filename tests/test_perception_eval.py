"""Scoring what a base perceives: greedy answers per attribute beside chance (evaluate/perception.py) and the
linear probes that read an attribute from one feature site (evaluate/linear_probe.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from crabplus.evaluate.linear_probe import fit_logistic, probe_accuracy, stratified_folds, stratified_split
from crabplus.evaluate.perception import is_right, mean_accuracy, normalise, probe_records, score_answers
from crabplus.schema.records import Answer, Media, Record


def _record(i: int, attribute: str | None, expected: str = "", values: int = 2, target: str = "x") -> Record:
    meta = (
        {"scene": {}}
        if attribute is None
        else {"probe": {"attribute": attribute, "expected": expected, "values": values}}
    )
    return Record(
        id=f"pt_face-train-{i:05d}-q0",
        dataset="pt_face",
        task="perception",
        split="train",
        media=Media(video="v.mp4"),
        instruction="?",
        answer=Answer(text="x"),
        target=target,
        meta=meta,
    )


# ---- greedy answers ----------------------------------------------------------------------------------------


def test_normalise_lowers_drops_punctuation_and_squeezes_spaces():
    assert normalise("  Upper   LEFT.\n") == "upper left"
    assert normalise("From 3 s to 7 s.") == "from 3 s to 7 s"
    assert normalise("brows drawn low and together, narrow eyes") == "brows drawn low and together narrow eyes"
    assert normalise("...!?") == ""


@pytest.mark.parametrize(
    ("answer", "expected", "right"),
    [
        ("Cheerful.", "cheerful", True),
        ("cheerful, the face shows a broad smile", "cheerful", True),  # leading words are what counts
        ("The first.", "the first", True),
        ("The firsts.", "the first", False),  # whole words, not a prefix of one
        ("The first", "the first clip", False),  # an answer shorter than the expected words
        ("It is cheerful.", "cheerful", False),  # the perceived word must lead
        ("Top left.", "top right", False),
        ("From 3 s to 7 s.", "from 3 s to 7 s", True),
        ("From 3 s to 8 s.", "from 3 s to 7 s", False),
        ("", "cheerful", False),
        ("Anything.", "", False),  # an empty expectation is never met (a broken probe scores 0, not 1)
        ("Anything.", "...", False),
    ],
)
def test_is_right(answer, expected, right):
    assert is_right(answer, expected) is right


def test_probe_records_keeps_only_records_with_a_probe():
    records = [_record(0, None), _record(1, "mood", "calm", 8), _record(2, None)]
    assert [r.id for r in probe_records(records)] == [records[1].id]


def test_score_answers_counts_per_attribute_and_chance_is_the_mean_of_one_over_values():
    records = [
        _record(0, "mood", "calm", 8),
        _record(1, "mood", "cheerful", 8),
        _record(2, "mood", "down", 8),
        _record(3, "binding", "red circle", 2),
        _record(4, "binding", "blue cross", 3),
    ]
    answers = ["Calm.", "Calm.", "Down, slow and low.", "The red circle.", "Blue cross."]
    scores = score_answers(records, answers)
    assert list(scores) == ["binding", "mood"]  # sorted by name
    assert (scores["mood"].n, scores["mood"].right) == (3, 2)
    assert scores["mood"].accuracy == pytest.approx(2 / 3)
    assert scores["mood"].chance == pytest.approx(1 / 8)
    assert (scores["binding"].n, scores["binding"].right) == (2, 2)  # a leading article aside: "The red circle."
    assert scores["binding"].chance == pytest.approx((1 / 2 + 1 / 3) / 2)  # per question, then the mean
    assert scores["binding"].to_json() == {"n": 2, "right": 2, "accuracy": 1.0, "chance": 0.4167}
    assert mean_accuracy(scores) == pytest.approx((2 / 3 + 1) / 2)  # each attribute once
    assert mean_accuracy({}) == 0.0


def test_score_answers_refuses_a_count_mismatch():
    with pytest.raises(ValueError, match="2 records but 1 answers"):
        score_answers([_record(0, "mood", "calm", 8), _record(1, "mood", "calm", 8)], ["Calm."])


# ---- linear probes -----------------------------------------------------------------------------------------


def test_stratified_split_and_folds_keep_every_class_in_proportion():
    labels = np.array([0] * 10 + [1] * 20 + [2] * 1)
    train, test = stratified_split(labels, 0.7, np.random.default_rng(0))
    assert sorted([*train, *test]) == list(range(len(labels))) and not set(train) & set(test)
    assert np.bincount(labels[train]).tolist() == [7, 14, 1]  # a class of one goes to train
    fold = stratified_folds(labels[train], 3, np.random.default_rng(0))
    for cls in (0, 1):
        counts = np.bincount(fold[labels[train] == cls], minlength=3)
        assert counts.max() - counts.min() <= 1


def test_fit_logistic_reaches_the_penalised_optimum():
    """At the returned weights the gradient of scikit-learn's objective (divided by c N) vanishes."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(60, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (60,), generator=gen)
    c = 0.1
    w, b = fit_logistic(x, y, 3, c, max_iter=500)
    w.requires_grad_(True)
    b.requires_grad_(True)
    loss = F.cross_entropy(x @ w + b, y) + (w * w).sum() / (2 * c * 60)
    loss.backward()
    assert w.grad.abs().max() < 1e-4 and b.grad.abs().max() < 1e-4
    assert w.abs().max() > 1e-3  # not the trivial zero solution


def test_probe_reads_a_linear_attribute_and_not_a_random_one():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=120)
    features = rng.normal(size=(120, 8))
    features[:, 2] += 6.0 * labels  # the attribute is linear in one direction
    read = probe_accuracy(features, [f"class {v}" for v in labels])
    assert read.accuracy > 0.95 and read.n == 120 and read.classes == 3
    assert 0.2 < read.majority < 0.5
    shuffled = probe_accuracy(features, list(rng.permutation(labels)))
    assert shuffled.accuracy < 0.6
    assert read.to_json()["chosen_c"] and len(read.chosen_c) == 3  # one c per split


def test_probe_accuracy_refuses_what_it_cannot_probe():
    with pytest.raises(ValueError, match="at least 2 classes"):
        probe_accuracy(np.zeros((4, 2)), ["a"] * 4)
    with pytest.raises(ValueError, match="need \\[N, D\\]"):
        probe_accuracy(np.zeros((4, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="no test part"):
        probe_accuracy(np.zeros((2, 2)), ["a", "b"])


def test_probe_handles_more_dimensions_than_samples_and_constant_features():
    """The fit in the span of the training rows (D > N) and a constant column (std 0) give finite results."""
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 20)
    features = rng.normal(size=(40, 300))
    features[:, 0] = 1.0
    features[:, 1:31] += 2.0 * labels[:, None]  # spread over many directions, as a real feature holds it
    read = probe_accuracy(features, list(labels), cs=(0.1, 1.0))
    assert read.accuracy > 0.9


def test_long_values_are_told_apart_by_their_first_words():
    """A face or a voice is a phrase; its first few words already tell every value apart, so an answer cut by the
    token budget is still scored right, and two values never share those words."""
    from crabplus.evaluate.perception import MAX_WORDS, _lead
    from crabplus.synth.pretrain_text import FACE_VOICE_MOOD

    for part in (0, 1):  # faces, voices
        values = {v[part] for v in FACE_VOICE_MOOD.values()}
        assert len({tuple(_lead(normalise(v).split())[:MAX_WORDS]) for v in values}) == len(values)
    assert is_right("Brows up high, wide eyes and the", "brows up high, wide eyes and the mouth open in an O")
    assert not is_right("Brows up high.", "brows up high, wide eyes and the mouth open in an O")


@pytest.mark.parametrize(
    "text, box",
    [
        ("The box is [16,140,72,196] [42,166][62,186]", (16, 140, 72, 196)),
        ("Its corners are <obj>(56,36)(120,100)</obj>.", (56, 36, 120, 100)),
        ("[ 1, 2, 3, 4 ]", (1, 2, 3, 4)),
        ("Upper left.", None),
        ("[42,166][62,186]", None),  # points, not a box
        (None, None),
    ],
)
def test_first_box_reads_both_forms_the_corpus_writes(text, box):
    from crabplus.evaluate.perception import first_box

    assert first_box(text) == box


def test_box_iou_and_score_boxes_against_hand_counted_values():
    from crabplus.evaluate.perception import box_iou, box_records, score_boxes

    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_iou(None, (0, 0, 1, 1)) == 0.0 and box_iou((5, 5, 5, 9), (0, 0, 10, 10)) == 0.0
    records = [
        _record(0, None, target="The box is [0,0,10,10] [1,1]"),
        _record(1, None, target="Its corners are <obj>(20,0)(30,10)</obj>."),
        _record(2, None, target="Upper left."),
    ]
    boxed = box_records(records)
    assert boxed == records[:2]
    score = score_boxes(boxed, ["[0,0,10,10]", "no box here"])
    assert (score.n, score.hits, score.accuracy) == (2, 1, 0.5)
    assert score.mean_iou == pytest.approx(0.5)
    # the mean box (10,0,20,10) touches each true box along an edge only: IoU 0, so no constant hit
    assert (score.constant_hits, score.constant_mean_iou, score.chance) == (0, 0.0, 0.0)
    with pytest.raises(ValueError, match="holds no box"):
        score_boxes(records, ["", "", ""])
