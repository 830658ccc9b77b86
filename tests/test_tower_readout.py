"""benchmarks/tower_readout.py at toy size (``--quick``) on two tiny random-weight bases: the JSON holds both side
by side, every target (the optional ones too) and the accuracy over tokens that hold an object beside its chance.
Not the towers' quality: a few steps on a few clips mean little."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from helpers.model import tiny_model_config, tiny_thinker, tiny_tokenizer

from crabplus.model import save_checkpoint
from crabplus.synth.encoder_targets import OPTIONAL_TARGETS, TARGETS

pytestmark = pytest.mark.integration

_SPEC = importlib.util.spec_from_file_location(
    "tower_readout", Path(__file__).parents[1] / "benchmarks" / "tower_readout.py"
)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_readout_compares_checkpoints_on_the_same_clips(tmp_path):
    tokenizer = tiny_tokenizer()
    bases = [
        save_checkpoint(
            tmp_path / f"base{s}", tiny_thinker(tokenizer, seed=s), tokenizer, tiny_model_config(adapter="none")
        )
        for s in (3, 4)
    ]
    out = tmp_path / "readout.json"
    argv = ["--checkpoint", str(bases[0]), "--checkpoint", str(bases[1]), "--out", str(out), "--quick"]
    assert bench.main([*argv, "--work", str(tmp_path / "work")]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["command"].startswith("python benchmarks/tower_readout.py --checkpoint")
    assert list(result["models"]) == [str(b) for b in bases]
    one, two = result["models"].values()
    assert one["sha256"] != two["sha256"]
    for model in (one, two):
        assert set(model["validation"]) >= (set(TARGETS) | set(OPTIONAL_TARGETS)) - {"mood", "face", "speaker_high"}
        assert set(model["occupied"]) == {"token_colour", "token_shape", "token_ninth", "token_motion"}
        assert all(0.0 <= v <= 1.0 for v in model["occupied"].values())
        assert model["occupied_chance"]["token_ninth"] == pytest.approx(1 / 9, abs=1e-4)
    assert one["occupied_tokens"] == two["occupied_tokens"]  # the same held-out tokens for both


def test_bad_arguments_get_one_line_and_exit_2(tmp_path, capsys):
    assert bench.main(["--checkpoint", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    assert bench.main(["--corpus", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "--corpus" in capsys.readouterr().err
