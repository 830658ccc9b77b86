"""The modular family end to end through the same front door as the unified one, at toy size on AVSynth:
``crabplus train --config configs/modular-tiny-base.yaml`` (every part of the random tiny model learns from the
perception corpus), then ``--config configs/modular-tiny-ilora.yaml`` (I-LoRA on the frozen LLM), stopped and
resumed to the same losses and adapter, then ``crabplus predict`` and ``crabplus eval`` on its predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from crabplus.cli.main import main
from crabplus.train import read_metrics

pytestmark = pytest.mark.integration  # trains two stages and predicts

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SMALL = ["train.batch_size=2", "train.log_steps=1", "train.warmup_ratio=0.0"]


@pytest.fixture(scope="module")
def base(small_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("modular-base")
    assert (
        main(
            [
                "train",
                "--config",
                str(CONFIGS / "modular-tiny-base.yaml"),
                f"data.train=[{small_corpus}]",
                f"data.root={small_corpus}",
                f"data.cache_dir={small_corpus}/.cache",
                f"output_dir={out}",
                "train.max_steps=8",
                "train.save_steps=4",
                "train.learning_rate=3e-3",
                *SMALL,
            ]
        )
        == 0
    )
    return out


def test_base_stage_trains_every_part_and_exports_the_whole_model(base):
    rows = read_metrics(base / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert rows[-1]["loss"] < rows[0]["loss"]  # every part of a random model trains: the loss comes down
    meta = json.loads((base / "final" / "crabplus_model.json").read_text())
    assert meta["base"] == "included" and meta["model"]["family"] == "modular"
    trained = load_file(str(base / "checkpoint-8" / "trainable.safetensors"))
    assert {k.split(".")[0] for k in trained} == {
        "visual",
        "audio_tower",
        "vision_projector",
        "audio_projector",
        "language_model",
    }


def ilora(synth: Path, base: Path, out: Path, *extra: str) -> list[str]:
    data = f"data.train=[{synth}/s4/train.jsonl,{synth}/cremad/train.jsonl]"
    return [
        "train",
        "--config",
        str(CONFIGS / "modular-tiny-ilora.yaml"),
        data,
        f"data.root={synth}",
        f"data.cache_dir={synth}/.cache",
        f"model.checkpoint={base / 'final'}",
        f"output_dir={out}",
        "train.max_steps=4",
        "train.save_steps=2",
        *SMALL,
        *extra,
    ]


def test_ilora_stage_resumes_predicts_and_evaluates(small_avsynth, base, tmp_path, capsys):
    synth = small_avsynth
    assert main(ilora(synth, base, tmp_path / "ref")) == 0
    assert main(ilora(synth, base, tmp_path / "run", "--stop-after-step", "2")) == 0
    assert not (tmp_path / "run" / "final").exists()
    assert main(ilora(synth, base, tmp_path / "run", "--resume")) == 0
    losses = [[r["loss"] for r in read_metrics(tmp_path / d / "metrics.jsonl")] for d in ("ref", "run")]
    assert len(losses[0]) == 4 and losses[0] == losses[1]
    final = tmp_path / "run" / "final"
    assert not (final / "model.safetensors").exists()  # adapter-only: the frozen base is named, not copied
    ref, got = (
        load_file(str(p / "final" / "adapter" / "adapter.safetensors")) for p in (tmp_path / "ref", tmp_path / "run")
    )
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    assert all(k.startswith("language_model.") and ".lora_" in k for k in got)

    preds = tmp_path / "preds.jsonl"
    assert (
        main(
            [
                "predict",
                str(synth / "s4" / "test.jsonl"),
                str(synth / "cremad" / "test.jsonl"),
                "--root",
                str(synth),
                "--checkpoint",
                str(final),
                "--output",
                str(preds),
                "--max-new-tokens",
                "12",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert {r["dataset"] for r in rows} == {"s4", "cremad"}
    assert all(r["routing"] and all(k.startswith("language_model.") for k in r["routing"]) for r in rows)
    assert (
        main(
            [
                "eval",
                "--predictions",
                str(preds),
                "--data",
                str(synth / "s4" / "test.jsonl"),
                str(synth / "cremad" / "test.jsonl"),
                "--root",
                str(synth),
                "--out",
                str(tmp_path / "eval"),
                "--chance-draws",
                "2",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert set(report["datasets"]) == {"s4", "cremad"}
    assert report["routing"]  # the I-LoRA routing of the modular model's LLM, summarised per dataset
