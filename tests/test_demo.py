"""The main job end to end at toy size: AVSynth -> base stage -> I-LoRA -> predictions -> report.

The real demo runs minutes; here every stage is a few steps on four datasets, which is enough to check
that the stages connect, the report holds every dataset beside chance, and a second run reuses what the
first one finished instead of training again.
"""

from __future__ import annotations

import json
import os

from crabplus.cli import main

TOY = [
    "synth.per_dataset=4", "synth.datasets=[ks, a2v, ave, s4]", "synth.workers=1",
    "base.max_steps=3", "base.save_steps=3", "base.batch_size=2",
    "adapter.max_steps=2", "adapter.save_steps=2", "adapter.batch_size=2",
    "eval.max_new_tokens=16", "eval.batch_size=4",
]


def test_demo_runs_end_to_end_and_reuses_finished_stages(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *TOY]) == 0
    printed = capsys.readouterr().out
    for name in ("ks", "a2v", "ave", "s4"):
        assert name in printed
    report = json.loads((out / "eval" / "report.json").read_text())
    assert sorted(report["datasets"]) == ["a2v", "ave", "ks", "s4"]
    for row in report["datasets"].values():
        assert row["n"] == 1 and row["chance"]["primary"] is not None and row["beyond_chance"] in (True, False)
    summary = json.loads((out / "summary.json").read_text())
    types = {"ks": "action", "a2v": "matching", "ave": "localization", "s4": "segmentation"}
    assert summary["task_types_beyond_chance"] == {  # a task type counts when any of its datasets passes the band
        t: report["datasets"][n]["beyond_chance"] and not report["datasets"][n]["one_place_prompts"]
        for n, t in types.items()}
    assert summary["beyond_chance"] == sorted(n for n in types if report["datasets"][n]["beyond_chance"])
    assert f"task types beyond chance: {sum(summary['task_types_beyond_chance'].values())} of 4" in printed
    assert (out / "eval" / "report.md").is_file() and (out / "eval" / "scores.png").is_file()
    rows = [json.loads(line) for line in (out / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(row["routing"] for row in rows), "I-LoRA predictions carry routing weights"
    assert (out / "base" / "final").is_dir() and (out / "ilora" / "final").is_dir()
    adapter_file = out / "ilora" / "final" / "adapter" / "adapter.safetensors"
    first = adapter_file.stat().st_mtime_ns

    assert main(["demo", "--out", str(out), *TOY]) == 0
    printed = capsys.readouterr().out
    assert "reusing AVSynth set" in printed
    assert "reusing finished stage base" in printed and "reusing finished stage ilora" in printed
    assert adapter_file.stat().st_mtime_ns == first

    # a regenerated data set (here: its manifest rewritten later) makes both stages train anew, from scratch
    manifest = out / "data" / "manifest.json"
    later = (out / "ilora" / "config.yaml").stat().st_mtime + 60
    os.utime(manifest, (later, later))
    assert main(["demo", "--out", str(out), *TOY]) == 0
    printed = capsys.readouterr().out
    assert "stage base: its data set or starting model changed" in printed
    assert "stage ilora: its data set or starting model changed" in printed
    assert "reusing finished stage" not in printed and "resume: continuing" not in printed
    assert adapter_file.stat().st_mtime_ns != first


def test_a_mask_score_from_one_place_prompts_does_not_count_for_its_task_type():
    from crabplus.experiments.demo import task_types_beyond_chance

    def row(beyond, one_place=False):
        return {"beyond_chance": beyond, "one_place_prompts": one_place}

    report = {"datasets": {"ks": row(True), "ucf": row(False), "s4": row(True, one_place=True), "ms3": row(False),
                           "a2v": row(None)}}
    assert task_types_beyond_chance(report) == {"action": True, "segmentation": False, "matching": False}
    report["datasets"]["ms3"] = row(True)
    assert task_types_beyond_chance(report)["segmentation"] is True


def test_demo_config_errors_name_the_key(capsys):
    assert main(["demo", "synth.image_size=84"]) == 2
    assert "data.image_size" in capsys.readouterr().err


def test_full_runs_the_transfer_study_with_even_draws_per_dataset(tmp_path, capsys):
    out = tmp_path / "study"
    toy = [t.replace("[ks, a2v, ave, s4]", "[ks, ave]") for t in TOY] + ["study_steps_per_dataset=2"]
    assert main(["demo", "--out", str(out), "--full", *toy]) == 0
    study = json.loads((out / "study.json").read_text())
    assert (out / "transfer" / "transfer.md").is_file() and set(study) >= {"positive_share", "files"}
    for run in ("study-ilora", "study-lora", "study-single-ks", "study-single-ave"):
        saved = (out / run / "config.yaml").read_text()
        assert "sampling_balance: dataset" in saved, run  # multi-task runs see each dataset as often as alone
    assert "max_steps: 4" in (out / "study-ilora" / "config.yaml").read_text()  # 2 steps x 2 datasets
    assert "multi-task I-LoRA" in capsys.readouterr().out
