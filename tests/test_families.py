"""Every dataset through its answer family, table-driven over the 19 (one AVSynth ground-truth set each).

For each dataset: the ground truth's target text reads back to the same answer (``parse(render(gt)) == gt`` on
the fields the family writes), the ground truth scores perfect under the family's metric, chance lands inside
the metric's range, and no text, however malformed, makes a family's parser raise.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crabplus.evaluate.chance import chance_predictions
from crabplus.evaluate.images import FrameSource
from crabplus.evaluate.segscore import SegmentationScorer
from crabplus.schema.records import load_records
from crabplus.schema.registry import DATASETS
from crabplus.segment import build_segmenter
from crabplus.tasks.families import FAMILIES, ScoreConfig, family_of
from crabplus.tasks.families.base import higher_is_better
from crabplus.tasks.formats import render_answer
from crabplus.tasks.parsers import parse_answer

NAMES = list(DATASETS)
#: metrics whose scale is not 0..1 (coco-caption's CIDEr is 0..10)
RANGE = {"cider": (0.0, 10.0)}
#: metrics the ground truth cannot max out: CIDEr weighs n-grams by their rarity across the references
NOT_MAXED_BY_TRUTH = {"cider"}


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    """(data root, {dataset: records}) of a 3-clip AVSynth set of all 19 datasets (train and test splits)."""
    from crabplus.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("avsynth-families")
    generate(root, SynthConfig(per_dataset=3, image_size=56), progress=False)
    records = {name: [r for f in sorted((root / name).glob("*.jsonl")) for r in load_records(f)] for name in NAMES}
    return root, records


def scored_records(name, records):
    """The records a family scores on its own: spatial ones without their ground-truth mask files (the mask
    score is the segmenter's, not the family's), and S4/MS3 frames with nothing to point at left out."""
    if not family_of(name).spatial:
        return records
    kept = [r for r in records if r.answer.box is not None or r.answer.exists is False]
    return [dataclasses.replace(r, answer=dataclasses.replace(r.answer, mask=None)) for r in kept]


def score_config(root):
    return ScoreConfig(meteor=False, masks=SegmentationScorer(FrameSource(lambda r: root), build_segmenter))


def test_every_dataset_names_a_family_and_every_family_is_used():
    assert {spec.family for spec in DATASETS.values()} == set(FAMILIES)
    for name, spec in DATASETS.items():
        assert family_of(name).name == spec.family
        assert set(spec.answer_fields) <= set(family_of(name).fields), name


@pytest.mark.parametrize("name", NAMES)
def test_parse_of_render_is_the_ground_truth(truth, name):
    _, records = truth
    family = family_of(name)
    assert records[name]
    for r in records[name]:
        text = render_answer(name, r.answer)
        back = parse_answer(name, text, options=r.answer.options)
        if family.name == "mask" and r.answer.box is None:  # an empty ground-truth mask: no prompt to read back
            assert back is None
            continue
        fields = ("exists",) if family.name == "refavs" and not r.answer.exists else family.fields
        assert {f: getattr(back, f) for f in fields} == {f: getattr(r.answer, f) for f in fields}, (r.id, text)
        assert family.render(back) == text
        assert family.release_valid(text), (r.id, text)


@pytest.mark.parametrize("name", NAMES)
def test_ground_truth_scores_perfect(truth, name):
    root, records = truth
    family = family_of(name)
    recs = scored_records(name, records[name])
    preds = [family.parse(family.render(r.answer), r.answer.options) for r in recs]
    score = family.score(recs, preds, score_config(root))
    assert score.n == len(recs) and score.primary_metric in score.metrics
    for metric, value in score.metrics.items():
        if metric in NOT_MAXED_BY_TRUTH:
            continue
        assert value == pytest.approx(1.0 if higher_is_better(metric) else 0.0), (metric, score.metrics)


@pytest.mark.parametrize("name", NAMES)
def test_chance_is_inside_the_metric_range(truth, name):
    root, records = truth
    family = family_of(name)
    recs = scored_records(name, records[name])
    guesses = chance_predictions(family_of(DATASETS[name]), recs, seed=0, draw=0)
    assert len(guesses) == len(recs) and all(g.parsed and g.release_valid for g in guesses)
    assert guesses == chance_predictions(family_of(DATASETS[name]), recs, seed=0, draw=0)  # seeded
    score = family.score(recs, guesses, score_config(root))
    assert score.metrics
    for metric, value in score.metrics.items():
        low, high = RANGE.get(metric, (0.0, 1.0))
        assert low <= value <= high, (metric, value)


FRAGMENTS = [
    "<answer>",
    "</answer>",
    "<event>",
    "</event>",
    "<range>",
    "</range>",
    "<audio_event>",
    "</audio_event>",
    "<visual_event>",
    "<obj>",
    "</obj>",
    "</s>",
    "[",
    "]",
    "(",
    ")",
    ",",
    " ",
    "\n",
    "-",
    "~",
    "to",
    "0",
    "7",
    "224",
    "-3",
    "1.5",
    "1e999",
    "99999999999999999999",
    "nan",
    "true",
    "false",
    "yes",
    "The sounding object is",
    "Its coordinates are",
    "event:",
    "start_time:",
    "end_time:",
    "red circle",
    "A",
]
TEXTS = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=40).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, options=st.none() | st.lists(st.text(max_size=8), max_size=4))
def test_malformed_text_never_raises(text, options):
    for spec in {s.family: s for s in DATASETS.values()}.values():  # one dataset per family
        family = family_of(spec)
        pred = family.parse(text, options)
        assert isinstance(family.release_valid(text), bool)
        assert pred.parsed in (True, False)
        if pred.parsed and family.name not in ("option", "refavs"):  # (an option needs the options, Ref-AVS a box)
            assert isinstance(family.render(family.to_answer(pred, options)), str)  # what parses renders again


@pytest.mark.parametrize("family", sorted(FAMILIES))  # the spatial ones too: they read spec.metric as the others
def test_a_row_naming_a_metric_the_family_cannot_score_is_an_error(truth, family):
    name = next(n for n, s in DATASETS.items() if s.family == family)
    bound = family_of(dataclasses.replace(DATASETS[name], metric="no_such_metric"))
    records = truth[1][name]
    predictions = [bound.parse(render_answer(DATASETS[name], r.answer)) for r in records]
    for recs, preds in ((records, predictions), ([], [])):
        with pytest.raises(KeyError, match="no scorer for metric 'no_such_metric'"):
            bound.score(recs, preds, ScoreConfig(meteor=False))
