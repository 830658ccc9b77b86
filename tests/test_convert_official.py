"""`crabplus convert official-ilora`: a tiny fake finetune_weights.bin in the release's key layout (built
here from a tiny thinker) converts to an adapter directory that loads back to the same weights; bad
files fail with exit code 1 and a message naming the problem."""

from __future__ import annotations

import collections
import json

import pytest
import torch
from helpers.model import randomize_adapters, tiny_model_config, tiny_tokenizer

from crabplus.adapters import (
    ILoRAConfig,
    adapter_state_dict,
    apply_ilora,
    export_official_ilora,
    load_adapter,
)
from crabplus.cli import main
from crabplus.model import build_thinker


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def release(tok):
    """(adapted model, its weights in the release's layout as bf16, as the release stores them)."""
    torch.manual_seed(0)
    model = apply_ilora(
        build_thinker(tiny_model_config(), tok), ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True)
    )
    randomize_adapters(model)
    with torch.no_grad():  # bf16-representable values, so that the comparison below can be exact
        for _, param in model.named_parameters():
            param.copy_(param.to(torch.bfloat16).float())
    official = {k: v.to(torch.bfloat16) for k, v in export_official_ilora(model).items()}
    return model, official


def write_bin(path, state):
    torch.save(state, path)
    return path


def test_convert_writes_a_loadable_adapter(tok, release, tmp_path, capsys):
    model, official = release
    src = write_bin(tmp_path / "finetune_weights.bin", official)
    assert (
        main(
            [
                "convert",
                "official-ilora",
                str(src),
                str(tmp_path / "out"),
                "--alpha",
                "8",
                "--expect-tensors",
                str(len(official)),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"{len(official)} tensors" in out and "r=4, N=3" in out
    assert "LLM: 4 layers x 7 modules" in out and "audio encoder: 2 layers x 3 modules" in out
    meta = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert meta["config"]["rank"] == 4 and meta["config"]["alpha"] == 8.0 and meta["config"]["encoders"] is True
    torch.manual_seed(1)
    loaded = load_adapter(build_thinker(tiny_model_config(), tok), tmp_path / "out")
    want, got = adapter_state_dict(model), adapter_state_dict(loaded)
    assert want.keys() == got.keys()
    assert all(torch.equal(want[k], got[k]) for k in want)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing_layer_module", "missing"),
        ("count", "expected 999"),
        ("not_thinker", "not in a Qwen2.5-Omni thinker"),
        ("rank", "disagree on the rank"),
    ],
)
def test_convert_rejects_bad_files(release, tmp_path, capsys, damage, message):
    _, official = release
    state = dict(official)
    args = []
    if damage == "missing_layer_module":
        for part in ("A", "B0", "B1", "B2", "route"):
            del state[f"base_model.model.model.layers.2.mlp.gate_proj.lora_{part}.weight"]
    elif damage == "count":
        args = ["--expect-tensors", "999"]
    elif damage == "not_thinker":
        for key in [k for k in state if ".layers.0.self_attn.q_proj." in k and "audio" not in k]:
            state[key.replace("model.layers.0", "decoder.blocks.0")] = state.pop(key)
    else:
        prefix = "base_model.model.model.layers.0.self_attn.q_proj"
        state[f"{prefix}.lora_A.weight"] = torch.zeros(5, 128)
        for i in range(3):
            state[f"{prefix}.lora_B{i}.weight"] = torch.zeros(128, 5)
    src = write_bin(tmp_path / "bad.bin", state)
    assert main(["convert", "official-ilora", str(src), str(tmp_path / "out"), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "bad.bin" in err
    assert not (tmp_path / "out").exists()


def test_convert_never_unpickles_code(tmp_path, capsys):
    src = tmp_path / "evil.bin"
    torch.save({"x": collections.OrderedDict(a=torch.zeros(1)), "obj": ILoRAConfig()}, src)
    assert main(["convert", "official-ilora", str(src), str(tmp_path / "out")]) == 1
    assert "weights_only=True" in capsys.readouterr().err
    assert main(["convert", "official-ilora", str(tmp_path / "absent.bin"), str(tmp_path / "out")]) == 1
