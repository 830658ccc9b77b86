"""benchmarks/perception.py at toy size (``--quick``) on a tiny random-weight base: the JSON it writes has every
attribute with its count, chance and both models' accuracies, and the probes every feature site. Not the base's
quality: a random base answers nothing right, and the probe numbers of a few clips mean little."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest
from helpers.model import tiny_model_config, tiny_thinker, tiny_tokenizer

from crabplus.model import save_checkpoint
from crabplus.schema.records import load_records

pytestmark = pytest.mark.integration

_SPEC = importlib.util.spec_from_file_location(
    "perception_bench", Path(__file__).parents[1] / "benchmarks" / "perception.py"
)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("perception-bench")
    tokenizer = tiny_tokenizer()
    base = save_checkpoint(tmp / "base", tiny_thinker(tokenizer, seed=3), tokenizer, tiny_model_config(adapter="none"))
    out = tmp / "perception.json"
    assert (
        bench.main(
            [
                "--checkpoint",
                str(base),
                "--out",
                str(out),
                "--quick",
                "--clips-scale",
                "0.5",
                "--work",
                str(tmp / "work"),
                "--batch-size",
                "4",
            ]
        )
        == 0
    )
    records = [r for layout in bench.QUICK_CLIPS for r in load_records(tmp / "work" / layout / "train.jsonl")]
    return json.loads(out.read_text(encoding="utf-8")), records, base


def test_greedy_part_scores_every_attribute_beside_its_chance(run):
    result, records, base = run
    assert result["seed"] == 7 and result["held_out"] and result["image_size"] == 56
    assert result["checkpoint"] == str(base) and len(result["checkpoint_sha256"]) == 64
    assert result["random_init"] == {"preset": "tiny", "torch_seed": 0}
    asked = bench.greedy_questions(records, result["per_attribute"])
    by = Counter(q.meta["probe"]["attribute"] for q in asked)
    assert set(result["greedy"]) == set(by) | {"box"} and {"mood", "colour", "matching", "sound"} <= set(by)
    for attribute, g in result["greedy"].items():
        if attribute == "box":
            continue
        values = [q.meta["probe"]["values"] for q in asked if q.meta["probe"]["attribute"] == attribute]
        assert g["n"] == by[attribute] == len(values) <= result["per_attribute"]
        assert g["chance"] == pytest.approx(sum(1 / v for v in values) / len(values), abs=1e-4)
        assert 0.0 <= g["accuracy"] <= 1.0 and 0.0 <= g["random_init_accuracy"] <= 1.0
        low, high = g["interval_95"]  # the Wilson interval of the checkpoint's accuracy over its n questions
        assert 0.0 <= low <= g["accuracy"] <= high <= 1.0 and high - low > 0.1  # a few questions: a wide interval
        assert g["max_new_tokens"] >= 16 and g["examples"]
    assert result["greedy"]["mood"]["chance"] == pytest.approx(1 / 8, abs=1e-4)
    assert result["greedy"]["matching"]["chance"] == pytest.approx(1 / 2, abs=1e-4)
    assert result["greedy"]["face"]["max_new_tokens"] > 16  # the drawn face is a long phrase


def test_box_part_scores_box_answers_by_iou_beside_the_mean_box(run):
    from crabplus.evaluate.perception import box_iou, first_box

    result, records, _ = run
    box = result["greedy"]["box"]
    asked = bench.box_questions(records, result["per_attribute"])
    assert box["n"] == len(asked) >= 1 and len({bench.clip_of(q) for q in asked}) == len(asked)
    truth = [first_box(q.target) for q in asked]
    mean = [sum(t[i] for t in truth) / len(truth) for i in range(4)]
    assert box["constant_mean_iou"] == pytest.approx(sum(box_iou(mean, t) for t in truth) / len(truth), abs=1e-4)
    assert box["chance"] == pytest.approx(sum(box_iou(mean, t) >= 0.5 for t in truth) / len(truth), abs=1e-4)
    assert 0.0 <= box["mean_iou"] <= 1.0 and 0.0 <= box["accuracy"] <= 1.0 and box["examples"]


def test_probe_part_reads_every_site_for_both_models(run):
    result, records, _ = run
    sets = bench.probe_sets(records)
    expected = Counter(a for _, labels in sets.values() for lab in labels for a in lab)
    assert set(result["probes"]) == set(expected)
    read = 0
    for attribute, p in result["probes"].items():
        assert p["n"] == expected[attribute]
        if "skipped" in p:  # too few clips of a class at this size
            continue
        read += 1
        assert set(p["sites"]) == set(bench.SITES) and 0.0 <= p["majority"] <= 1.0
        for accs in p["sites"].values():
            assert set(accs) == {"checkpoint", "random_init"} and all(0.0 <= a <= 1.0 for a in accs.values())
    assert read >= 3
    assert set(result["seconds"]) == {"corpus", "greedy", "features", "probes", "total", "cpu"}


def test_a_folder_without_weights_is_refused(tmp_path, capsys):
    assert bench.main(["--checkpoint", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "no model.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_a_modular_base_is_read_at_its_projectors_inputs(tmp_path):
    """A modular base (Crab's paradigm): the same parts run; its tower sites are what its projectors read."""
    import torch

    from crabplus.model.config import ModelConfig
    from crabplus.train.recipe import build_model

    cfg = ModelConfig(family="modular", adapter="none")
    torch.manual_seed(3)
    tokenizer, model = build_model(cfg)
    base = save_checkpoint(tmp_path / "base", model, tokenizer, cfg)
    out = tmp_path / "perception.json"
    argv = ["--checkpoint", str(base), "--out", str(out), "--quick", "--clips-scale", "0.5", "--batch-size", "4"]
    assert bench.main(argv) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["random_init"] == {"preset": "modular-tiny", "torch_seed": 0}
    assert {"mood", "colour", "sound"} <= set(result["greedy"])
    read = [p for p in result["probes"].values() if "skipped" not in p]
    assert read and all(set(p["sites"]) == set(bench.SITES) for p in read)
