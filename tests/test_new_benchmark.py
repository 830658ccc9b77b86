"""A new benchmark whose answers have a shape we already have is ONE registry row (docs/architecture.md).

Two rows are added at test time, and nothing else: a label benchmark and a box-grounding benchmark. Their
records validate, their targets render, generated text parses, and ``evaluate_predictions`` scores them with
their family's metric and chance, end to end.
"""

from __future__ import annotations

import json

import pytest

from crabplus.evaluate.config import EvalConfig
from crabplus.evaluate.report import evaluate_predictions
from crabplus.schema.records import load_records
from crabplus.schema.registry import DATASETS, DatasetSpec
from crabplus.tasks.formats import target_for
from crabplus.tasks.parsers import parse_prediction

NEW_ROWS = {
    # a new action benchmark: answers are class labels, scored by accuracy
    "toy_actions": ("ks", DatasetSpec(
        "toy_actions", "Toy actions", "action", "video", 10, "tenths",
        "Please identify the action taking place in the video.", ("label",), "accuracy", family="label")),
    # a new grounding benchmark: a label and a box, scored by box IoU
    "toy_boxes": ("arig", DatasetSpec(
        "toy_boxes", "Toy boxes", "segmentation", "image", 1, "fifths",
        "Please recognize the category of object that makes the sound and then output its bounding box.",
        ("label", "box"), "box_iou", family="box")),
}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """AVSynth records of the two existing datasets whose answer shapes the new rows share."""
    from crabplus.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("avsynth-new-rows")
    generate(root, SynthConfig(per_dataset=4, image_size=56, datasets=["ks", "arig"]), progress=False)
    return root


def test_a_registry_row_is_all_a_new_benchmark_needs(source, tmp_path, monkeypatch):
    records, rows = [], []
    for name, (like, spec) in NEW_ROWS.items():
        monkeypatch.setitem(DATASETS, name, spec)
        files = sorted((source / like).glob("*.jsonl"))
        lines = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]
        for obj in lines:
            obj["dataset"], obj["id"] = name, obj["id"].replace(like, name)
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(obj) + "\n" for obj in lines), encoding="utf-8")
        recs = load_records(path)  # validated against the new row
        assert len(recs) >= 3
        for i, r in enumerate(recs):
            assert target_for(r) == r.target  # the family renders the new dataset's targets
            text = r.target if i else "I am not sure."  # one answer is wrong
            assert parse_prediction(name, text).parsed == (bool(i) or spec.family == "label")
            rows.append({"id": r.id, "dataset": name, "predict": text})
        records += recs

    report = evaluate_predictions(records, rows, source, config=EvalConfig(meteor=False, chance_draws=3))
    for name, (_, spec) in NEW_ROWS.items():
        row = report.datasets[name]
        n = sum(r.dataset == name for r in records)
        assert (row.n, row.metric) == (n, spec.metric)
        assert row.primary_metric == {"label": "accuracy", "box": "miou"}[spec.family]
        assert row.primary == pytest.approx((n - 1) / n)  # all right but the one
        assert row.unparsed == (0 if spec.family == "label" else 1)
        assert row.chance.draws == 3 and 0.0 <= row.chance.primary <= 1.0
