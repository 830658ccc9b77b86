"""Two processes on CPU (torchrun, gloo): DDP and FSDP give the run of one process with the same global batch."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.train import tiny_run_config
from safetensors.torch import load_file

from crabplus.config.core import save_config
from crabplus.train import read_metrics, train

pytestmark = pytest.mark.integration  # trains under torchrun, two processes

TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.fixture(scope="module")
def synth(small_avsynth):
    return small_avsynth


def run_cfg(synth, out, *overrides):
    return tiny_run_config(synth, out, *overrides, cache=False)


def torchrun(tmp_path: Path, cfg, *args: str) -> None:
    if not TORCHRUN.is_file() and shutil.which("torchrun") is None:
        pytest.fail("torchrun is not installed next to this Python")
    save_config(cfg, tmp_path / "preset.yaml")
    env = {**os.environ, "CRABPLUS_QUIET": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        str(TORCHRUN),
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "crabplus",
        "train",
        "--config",
        str(tmp_path / "preset.yaml"),
        *args,
    ]
    # A session of its own, so that a hang is ended with all of torchrun's workers, not just torchrun.
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail("torchrun did not finish within 240 s:\n" + out[-3000:])
    assert proc.returncode == 0, out[-4000:]


def _compare(one: Path, two: Path, weights: str) -> None:
    a, b = read_metrics(one / "metrics.jsonl"), read_metrics(two / "metrics.jsonl")
    assert [r["samples"] for r in a] == [r["samples"] for r in b] == [2, 2, 2]
    assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], rel=1e-5)
    assert [r["loss_per_task"] for r in b] == [pytest.approx(r["loss_per_task"], rel=1e-5) for r in a]
    wa, wb = load_file(str(one / "final" / weights)), load_file(str(two / "final" / weights))
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wb[key], wa[key], rtol=1e-4, atol=1e-5)


def test_ddp_two_processes_match_one_process(synth, tmp_path):
    """I-LoRA multi-task: 2 ranks × batch 1 == 1 rank × batch 2 (the loss is a token mean over both)."""
    train(run_cfg(synth, tmp_path / "one", "model.adapter=ilora"))
    torchrun(tmp_path, run_cfg(synth, tmp_path / "two", "model.adapter=ilora", "train.batch_size=1"))
    _compare(tmp_path / "one", tmp_path / "two", "adapter/adapter.safetensors")
    state = (tmp_path / "two" / "checkpoint-3" / "train_state.json").read_text()
    assert '"world_size": 2' in state
    assert {p.name for p in (tmp_path / "two" / "checkpoint-3").glob("rng-rank*.safetensors")} == {
        "rng-rank0.safetensors",
        "rng-rank1.safetensors",
    }


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["base", "ilora"])
def test_fsdp_two_processes_match_one_process(synth, tmp_path, stage, request):
    """FSDP2 (fully_shard): full training of the base stage, and I-LoRA on a frozen random base (the export
    rebuilds a plain copy on rank 0) — same losses and exported weights as one process."""
    data = request.getfixturevalue("small_corpus") if stage == "base" else synth  # the base trains on the corpus
    extra = (
        (
            "train.stage=base",
            "model.adapter=none",
            f"data.train=[{data}/pt_still/train.jsonl,{data}/pt_face/train.jsonl]",
        )
        if stage == "base"
        else ("model.adapter=ilora",)
    )
    train(run_cfg(data, tmp_path / "one", *extra))
    torchrun(tmp_path, run_cfg(data, tmp_path / "two", *extra, "train.batch_size=1", "train.distributed=fsdp"))
    _compare(tmp_path / "one", tmp_path / "two", "model.safetensors")
    if stage == "ilora":
        _compare(tmp_path / "one", tmp_path / "two", "adapter/adapter.safetensors")
