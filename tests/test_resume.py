"""Resume: a run stopped or killed after a checkpoint continues to the same losses and weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers.train import tiny_run_config
from safetensors.torch import load_file

from crabplus.cli.main import main
from crabplus.config.core import save_config
from crabplus.train import list_checkpoints, read_metrics, train

pytestmark = pytest.mark.integration  # trains, stops, kills and resumes runs

STEPS = 6


@pytest.fixture(scope="module")
def synth(small_avsynth):
    return small_avsynth


def run_cfg(synth, out, *overrides):
    # I-LoRA with dropout: the resumed run must also restore the random generators exactly
    return tiny_run_config(
        synth,
        out,
        "model.adapter=ilora",
        "model.ilora.dropout=0.1",
        f"train.max_steps={STEPS}",
        "train.warmup_ratio=0.2",
        "train.sampling_temperature=2.0",
        *overrides,
    )


@pytest.fixture(scope="module")
def reference(synth, tmp_path_factory):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    result = train(run_cfg(synth, out))
    return out, result


def _losses(out) -> list[float]:
    return [row["loss"] for row in read_metrics(out / "metrics.jsonl")]


def _same_adapter(a, b) -> None:
    wa, wb = (load_file(str(p / "adapter" / "adapter.safetensors")) for p in (a, b))
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def test_stopped_run_resumes_to_the_same_losses(synth, reference, tmp_path):
    ref_out, ref = reference
    cfg = run_cfg(synth, tmp_path)
    first = train(cfg, stop_after_step=3)  # checkpoint-2 written, step 3 done but not saved
    assert not first.completed and first.losses == ref.losses[:3]
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2]
    second = train(cfg, resume=True)
    assert second.start_step == 2 and second.completed
    assert second.losses == ref.losses[2:]  # exactly, not approximately
    assert _losses(tmp_path) == _losses(ref_out) and len(_losses(tmp_path)) == STEPS
    _same_adapter(second.checkpoint, ref.checkpoint)


def test_killed_process_resumes_to_the_same_losses(synth, reference, tmp_path):
    """A real SIGKILL (no clean-up code runs) after the first checkpoint, then --resume."""
    ref_out, ref = reference
    save_config(run_cfg(synth, tmp_path), tmp_path / "preset.yaml")
    env = {**os.environ, "CRABPLUS_QUIET": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crabplus", "train", "--config", str(tmp_path / "preset.yaml")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "checkpoint-2").is_dir():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    done = max(s for s, _ in list_checkpoints(tmp_path))
    assert done < STEPS, "the run finished before it could be killed"
    assert main(["train", "--config", str(tmp_path / "preset.yaml"), "--resume"]) == 0
    assert _losses(tmp_path) == _losses(ref_out)
    _same_adapter(tmp_path / "final", ref.checkpoint)


def test_resume_refuses_other_data_and_starts_fresh_without_checkpoints(synth, reference, tmp_path, capsys):
    ref_out, _ = reference
    save_config(run_cfg(synth, ref_out, "train.sampling_temperature=1.0"), tmp_path / "other.yaml")
    assert main(["train", "--config", str(tmp_path / "other.yaml"), "--resume"]) == 1
    assert "different training data" in capsys.readouterr().err
    fresh = train(run_cfg(synth, tmp_path / "empty", "train.max_steps=1"), resume=True)
    assert fresh.start_step == 0 and fresh.completed
