"""The main job end to end at toy size: AVSynth -> the shipped base (or a base stage on the perception corpus)
-> I-LoRA -> predictions -> report; and the transfer study over seeds.

The real demo runs minutes; here every stage is a few steps on four datasets, which is enough to check
that the stages connect, the report holds every dataset beside chance, and a second run reuses what the
first one finished instead of training again.
"""

from __future__ import annotations

import json
import os

import pytest

from crabplus.cli import main
from crabplus.evaluate import load_predictions
from crabplus.schema.report import Report

TOY = [
    "synth.per_dataset=4",
    "synth.datasets=[ks, a2v, ave, s4]",
    "synth.workers=1",
    "adapter.max_steps=2",
    "adapter.save_steps=2",
    "adapter.batch_size=2",
    "eval.max_new_tokens=16",
    "eval.batch_size=4",
    "threads=null",  # leave the test process's torch threads alone (a changed count changes later tests' sums)
]


@pytest.mark.integration  # the demo at toy size
def test_demo_runs_end_to_end_and_reuses_finished_stages(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *TOY]) == 0
    printed = capsys.readouterr().out
    for name in ("ks", "a2v", "ave", "s4"):
        assert name in printed
    report_file = out / "eval" / "report.json"
    report = Report.from_json(json.loads(report_file.read_text()), file=str(report_file))  # a valid report
    assert sorted(report.datasets) == ["a2v", "ave", "ks", "s4"]
    for row in report.datasets.values():
        assert row.n == 1 and row.chance.primary is not None and row.beyond_chance in (True, False)
    summary = json.loads((out / "summary.json").read_text())
    types = {"ks": "action", "a2v": "matching", "ave": "localization", "s4": "segmentation"}
    assert summary["task_types_beyond_chance"] == {  # a task type counts when any of its datasets passes the band
        t: report.datasets[n].beyond_chance and not report.datasets[n].one_place_prompts for n, t in types.items()
    }
    assert summary["beyond_chance"] == sorted(n for n in types if report.datasets[n].beyond_chance)
    assert f"task types beyond chance: {sum(summary['task_types_beyond_chance'].values())} of 4" in printed
    assert (out / "eval" / "report.md").is_file() and (out / "eval" / "scores.png").is_file()
    rows = load_predictions(out / "eval" / "predictions.jsonl")
    assert len(rows) == 4 and all(row.routing for row in rows), "I-LoRA predictions carry routing weights"
    assert "base: the shipped perception-pretrained model" in printed
    assert (out / "ilora" / "final").is_dir() and not (out / "base").exists()  # no base stage: the shipped one
    adapter_file = out / "ilora" / "final" / "adapter" / "adapter.safetensors"
    first = adapter_file.stat().st_mtime_ns

    # a second run reuses every stage; file times do not count (the data set's manifest touched here)
    manifest = out / "data" / "manifest.json"
    later = (out / "ilora" / "config.yaml").stat().st_mtime + 60
    os.utime(manifest, (later, later))
    assert main(["demo", "--out", str(out), *TOY]) == 0
    printed = capsys.readouterr().out
    assert "reusing AVSynth set" in printed and "reusing finished stage ilora" in printed
    assert "reusing predictions" in printed and "reusing evaluation" in printed
    assert adapter_file.stat().st_mtime_ns == first

    # a changed configuration value trains the adapter anew, from scratch, and predicts and scores again
    assert main(["demo", "--out", str(out), *TOY, "adapter.learning_rate=0.004"]) == 0
    printed = capsys.readouterr().out
    assert "reusing AVSynth set" in printed and "[stage] ilora: its configuration, data or starting model" in printed
    assert "reusing finished stage" not in printed and "resume: continuing" not in printed
    assert "reusing predictions" not in printed and "reusing evaluation" not in printed
    assert adapter_file.stat().st_mtime_ns != first


def test_a_mask_score_from_one_place_prompts_does_not_count_for_its_task_type():
    from dataclasses import replace

    from helpers.reports import dataset_score, make_report

    from crabplus.experiments.demo import task_types_beyond_chance

    def row(name, beyond, one_place=False):
        return replace(
            dataset_score(name, {"accuracy": (0.5, True)}), beyond_chance=beyond, one_place_prompts=one_place
        )

    report = make_report(
        row("ks", True), row("ucf", False), row("s4", True, one_place=True), row("ms3", False), row("a2v", None)
    )
    assert task_types_beyond_chance(report) == {"action": True, "segmentation": False, "matching": False}
    report.datasets["ms3"] = row("ms3", True)
    assert task_types_beyond_chance(report)["segmentation"] is True


def test_demo_config_errors_name_the_key(capsys):
    assert main(["demo", "synth.image_size=84"]) == 2
    assert "data.image_size" in capsys.readouterr().err
    assert main(["demo", "model.family=modular"]) == 2  # the shipped base is the unified thinker
    assert "retrain_base=true" in capsys.readouterr().err


def test_a_modular_demo_takes_a_modular_base_folder_and_refuses_the_other_familys():
    from crabplus.config.core import ConfigError, apply_overrides
    from crabplus.experiments.base import SHIPPED_BASE
    from crabplus.experiments.config import DemoConfig

    with pytest.raises(ConfigError, match="model.family=unified"):
        apply_overrides(DemoConfig(), ["model.family=modular", f"base_model={SHIPPED_BASE}"])


@pytest.mark.integration  # the demo at toy size, on the modular family
def test_demo_runs_the_modular_family_from_its_own_base(tmp_path, capsys):
    import torch
    import yaml

    from crabplus.experiments.base import SHIPPED_BASE
    from crabplus.schema.layouts import MODULAR_MODEL_TYPE
    from crabplus.utils.io import read_safetensors

    out = tmp_path / "demo"
    toy = [t.replace("[ks, a2v, ave, s4]", "[ks, s4]") for t in TOY]
    assert (
        main(
            [
                "demo",
                "--out",
                str(out),
                *toy,
                "model.family=modular",
                "retrain_base=true",
                "corpus_scale=0.001",
                "base.max_steps=2",
                "base.save_steps=2",
                "base.batch_size=2",
                "encoders.steps=2",
                "encoders.batch_size=2",
                "refine.max_steps=2",
                "refine.save_steps=2",
                "refine.batch_size=2",
            ]
        )
        == 0
    )
    base_cfg = yaml.safe_load((out / "base" / "config.yaml").read_text())
    assert base_cfg["model"]["family"] == "modular" and base_cfg["model"]["preset"] == "modular-tiny"
    assert base_cfg["model"]["modular"]["trainable"] == ["projectors"]  # Crab's stage: encoders and LLM frozen
    assert base_cfg["model"]["modular"]["vision"] == str(out / "parts" / "vision")  # stage 0's, as a CLIP folder
    assert json.loads((out / "chosen" / "config.json").read_text())["model_type"] == MODULAR_MODEL_TYPE
    # the frozen LLM is the shipped unified base's, tensor for tensor
    chosen = read_safetensors(out / "chosen" / "model.safetensors", ValueError)
    shipped = read_safetensors(SHIPPED_BASE / "model.safetensors", ValueError)
    llm = {k: v for k, v in chosen.items() if k.startswith("language_model.")}
    assert len(llm) == sum(k.startswith(("model.language_model.", "lm_head.")) for k in shipped)
    for key, value in llm.items():
        name = key.removeprefix("language_model.")
        assert torch.equal(value, shipped[name if name.startswith("lm_head.") else "model.language_" + name]), key
    adapter_cfg = yaml.safe_load((out / "ilora" / "config.yaml").read_text())
    assert adapter_cfg["model"]["checkpoint"] == str(out / "chosen")
    report = Report.from_json(json.loads((out / "eval" / "report.json").read_text()))
    assert set(report.datasets) == {"ks", "s4"}


@pytest.mark.integration  # the demo at toy size
def test_demo_can_retrain_the_base_on_the_perception_corpus_only(tmp_path, capsys):
    import yaml

    out = tmp_path / "demo"
    toy = [t.replace("[ks, a2v, ave, s4]", "[ks]") for t in TOY]
    assert (
        main(
            [
                "demo",
                "--out",
                str(out),
                *toy,
                "retrain_base=true",
                "corpus_scale=0.001",
                "base.max_steps=2",
                "base.save_steps=2",
                "base.batch_size=2",
                "encoders.steps=2",
                "encoders.batch_size=2",
                "refine.max_steps=2",
                "refine.save_steps=2",
                "refine.batch_size=2",
            ]
        )
        == 0
    )
    assert "perception corpus:" in capsys.readouterr().out
    base_cfg = yaml.safe_load((out / "base" / "config.yaml").read_text())
    assert base_cfg["train"]["stage"] == "base" and base_cfg["train"]["max_steps"] == 2
    assert base_cfg["data"]["train"] and all(
        f.startswith(str(out / "corpus")) and "/pt_" in f for f in base_cfg["data"]["train"]
    )
    adapter_cfg = yaml.safe_load((out / "ilora" / "config.yaml").read_text())
    assert adapter_cfg["model"]["checkpoint"] == str(out / "chosen")  # the alignment checkpoint held-out answers chose
    assert (out / "encoders" / "encoders.json").is_file()  # the towers were trained first


@pytest.mark.integration  # the demo at toy size
def test_full_runs_every_method_per_seed_with_even_draws_and_writes_the_tables(tmp_path, capsys):
    out = tmp_path / "study"
    toy = [t.replace("[ks, a2v, ave, s4]", "[ks, ave]") for t in TOY] + [
        "study_steps_per_dataset=2",
        "study_methods=[ilora, lora]",
    ]
    assert main(["demo", "--out", str(out), "--full", "--seeds", "0,1", *toy]) == 0
    printed = capsys.readouterr().out
    assert "[study] run 8/8:" in printed  # (2 multi-task + 2 single-task runs) x 2 seeds, one line each
    study = json.loads((out / "study.json").read_text())
    assert study["split"] == "test" and study["seeds"] == [0, 1]
    table = json.loads((out / "transfer" / "transfer.json").read_text())
    assert set(table["methods"]) == {"ilora", "lora"} and set(table["headline"]) == {"ilora", "lora"}
    for method in table["methods"].values():
        assert method["seeds"] == [0, 1] and method["datasets"] == len(table["rows"]) >= 2
    row = table["rows"][0]["methods"]["ilora"]
    assert len(row["diffs"]) == 2 and row["low"] <= row["mean_diff"] <= row["high"]
    routing = json.loads((out / "transfer" / "routing.json").read_text())
    assert len(routing["mean_js_per_seed"]) == 2 and routing["over_seeds"]["mean_js"] >= 0
    assert (out / "transfer" / "routing.png").is_file() and (out / "transfer" / "transfer.png").is_file()
    params = table["trainable_params"]
    assert abs(params["lora"] - params["ilora"]) <= params["lora_same_rank"] / 8 / 2 + 1  # closest LoRA rank
    for run in ("s0/ilora", "s0/lora", "s1/single-ks", "s1/single-ave"):
        saved = (out / "study-test" / "r8" / run / "config.yaml").read_text()
        assert "sampling_balance: dataset" in saved, run  # multi-task runs see each dataset as often as alone
    assert "max_steps: 4" in (out / "study-test" / "r8" / "s0" / "ilora" / "config.yaml").read_text()
    assert "seed: 1" in (out / "study-test" / "r8" / "s1" / "lora" / "config.yaml").read_text()


@pytest.mark.integration  # the demo at toy size
def test_the_rank_sweep_scores_a_validation_split_carved_from_train(tmp_path, capsys):
    out = tmp_path / "sweep"
    toy = [t.replace("[ks, a2v, ave, s4]", "[ks]") for t in TOY] + [
        "synth.per_dataset=8",
        "study_steps_per_dataset=1",
        "study_methods=[ilora]",
        "study_val_per_dataset=2",
    ]
    assert main(["demo", "--out", str(out), "--full", "--seeds", "0", "--ranks", "2,4", *toy]) == 0
    sweep = json.loads((out / "sweep" / "sweep.json").read_text())
    assert sweep["split"] == "val" and sweep["chosen_rank"] in (2, 4)
    from crabplus.schema.records import load_records

    train = load_records(out / "splits" / "ks" / "train.jsonl")
    val = load_records(out / "splits" / "ks" / "val.jsonl")
    assert len(train) == 4 and len(val) == 2 and all(r.split == "val" for r in val)
    assert not {r.id for r in train} & {r.id for r in val}
    scored = [
        json.loads(x)["id"]
        for x in (out / "eval-study-val" / "r2" / "s0" / "ilora" / "predictions.jsonl").read_text().splitlines()
    ]
    assert sorted(scored) == sorted(r.id for r in val)  # validation clips, never test
