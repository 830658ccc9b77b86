"""A new benchmark whose answers have a shape we already have is ONE registry row (docs/architecture.md).

Rows are added at test time the way a user adds them (``register_dataset``), and nothing else: a label
benchmark and a box-grounding benchmark. Their records validate, their targets render, generated text parses,
and ``evaluate_predictions`` scores them with their family's metric and chance, end to end. And a row without an
AVSynth mirror moves nothing that exists: ``crabplus data synth`` with default settings and the demo run, no
clip of it is made, and the existing datasets' bytes, studio tints and tokens stay what they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crabplus.evaluate.config import EvalConfig
from crabplus.evaluate.report import evaluate_predictions
from crabplus.schema.records import load_records
from crabplus.schema.registry import (
    DATASETS,
    RELEASE_DATASETS,
    DatasetSpec,
    dataset_names,
    get_spec,
    register_dataset,
    unregister_dataset,
)
from crabplus.tasks.formats import target_for
from crabplus.tasks.parsers import parse_prediction

NEW_ROWS = {
    # a new action benchmark: answers are class labels, scored by accuracy
    "toy_actions": (
        "ks",
        DatasetSpec(
            "toy_actions",
            "Toy actions",
            "action",
            "video",
            10,
            "tenths",
            "Please identify the action taking place in the video.",
            ("label",),
            "accuracy",
            family="label",
        ),
    ),
    # a new grounding benchmark: a label and a box, scored by box IoU
    "toy_boxes": (
        "arig",
        DatasetSpec(
            "toy_boxes",
            "Toy boxes",
            "segmentation",
            "image",
            1,
            "fifths",
            "Please recognize the category of object that makes the sound and then output its bounding box.",
            ("label", "box"),
            "box_iou",
            family="box",
        ),
    ),
}


#: the architecture page's example row: an action benchmark of class labels, with no AVSynth mirror; it shares
#: its instruction with two mirrored datasets, whose studio tints once spread over every row sharing it
EPIC = DatasetSpec(
    "epic_sounds",
    "EPIC-SOUNDS",
    "action",
    "video",
    10,
    "tenths",
    "Please identify the action taking place in the video.",
    ("label",),
    "accuracy",
    family="label",
)


@pytest.fixture
def register():
    """``register(spec)`` adds a row for one test; it is removed again after."""
    added: list[str] = []

    def add(spec: DatasetSpec) -> DatasetSpec:
        added.append(register_dataset(spec).name)
        return spec

    yield add
    for name in added:
        unregister_dataset(name)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """AVSynth records of the two existing datasets whose answer shapes the new rows share."""
    from crabplus.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("avsynth-new-rows")
    generate(root, SynthConfig(per_dataset=4, image_size=56, datasets=["ks", "arig"]), progress=False)
    return root


def test_a_registry_row_is_all_a_new_benchmark_needs(source, tmp_path, register):
    records, rows = [], []
    for name, (like, spec) in NEW_ROWS.items():
        register(spec)
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


def _files(root: Path, names) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for name in names
        for p in sorted((root / name).rglob("*"))
        if p.is_file()
    }


def test_a_row_without_a_mirror_moves_nothing_that_exists(tmp_path, register):
    from crabplus.data.tokenizer import _train_tokenizer_json
    from crabplus.synth import SynthConfig, generate
    from crabplus.synth.studio import studio_tint

    small = {"per_dataset": 2, "image_size": 28, "clip_seconds": 4, "fps": 1}
    sharing = [n for n in RELEASE_DATASETS if get_spec(n).instruction == EPIC.instruction]
    assert len(sharing) == 2  # the two mirrors whose studios the new row could have moved
    generate(tmp_path / "before", SynthConfig(datasets=sharing, **small), progress=False)
    tints = {n: studio_tint(n).tolist() for n in RELEASE_DATASETS}
    _train_tokenizer_json.cache_clear()
    tokens = _train_tokenizer_json()

    register(EPIC)
    assert dataset_names() == (*RELEASE_DATASETS, "epic_sounds") and DATASETS["epic_sounds"] is EPIC
    manifest = generate(tmp_path / "after", SynthConfig(**small), progress=False)  # default settings: every mirror
    assert manifest.datasets == list(RELEASE_DATASETS) and not (tmp_path / "after" / "epic_sounds").exists()
    before = _files(tmp_path / "before", sharing)
    assert before and _files(tmp_path / "after", sharing) == before  # byte for byte
    assert {n: studio_tint(n).tolist() for n in RELEASE_DATASETS} == tints
    _train_tokenizer_json.cache_clear()
    try:
        assert _train_tokenizer_json() == tokens
    finally:
        _train_tokenizer_json.cache_clear()
    with pytest.raises(Exception, match="no AVSynth mirror"):
        generate(tmp_path / "named", SynthConfig(datasets=["epic_sounds"], **small), progress=False)


def test_the_registry_refuses_a_bad_row_and_keeps_the_release(register):
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(DATASETS["ks"])
    with pytest.raises(ValueError, match="folder name"):
        register_dataset(DatasetSpec("Bad Name", "x", "action", "video", 1, "tenths", "x", ("label",), "accuracy"))
    with pytest.raises(ValueError, match="task"):
        register_dataset(DatasetSpec("toy_x", "x", "dance", "video", 1, "tenths", "x", ("label",), "accuracy"))
    with pytest.raises(ValueError, match="release"):
        unregister_dataset("ks")
    with pytest.raises(TypeError):
        DATASETS["toy_x"] = EPIC  # a read-only view: rows come in through register_dataset


@pytest.mark.integration  # the demo at toy size, with the extra row registered
def test_the_demo_runs_with_a_row_that_has_no_mirror(tmp_path, register, capsys):
    from crabplus.cli import main

    register(EPIC)
    toy = [
        "synth.per_dataset=2",
        "synth.clip_seconds=4",
        "synth.fps=1",
        "synth.workers=1",
        "adapter.max_steps=1",
        "adapter.save_steps=1",
        "adapter.batch_size=2",
        "eval.max_new_tokens=8",
        "eval.batch_size=8",
        "eval.mask_chance_draws=2",
        "threads=null",
    ]
    assert main(["demo", "--out", str(tmp_path / "demo"), *toy]) == 0
    report = json.loads((tmp_path / "demo" / "eval" / "report.json").read_text(encoding="utf-8"))
    assert list(report["datasets"]) == list(RELEASE_DATASETS)  # every mirror scored, no row for epic_sounds
    assert "epic_sounds" not in capsys.readouterr().out
