"""I-LoRA through PEFT's own API (crabplus.adapters.peft_method): get_peft_model adapts the same layers as
apply_ilora with our layer, save_pretrained writes our tensors behind PEFT's prefix, PeftModel.from_pretrained
round-trips bit-exactly, and our adapters / the converter write the same layout; on both model families (the
unified thinker and the modular model's LLM)."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.model import batch_of, randomize_adapters, tiny_thinker, tiny_tokenizer
from peft import PeftModel, get_peft_model
from safetensors.torch import load_file

from crabplus.adapters import (
    ILoRAConfig,
    ILoRALinear,
    ILoRAPeftConfig,
    adapter_state_dict,
    apply_ilora,
    export_official_ilora,
    ilora_layers,
    load_adapter,
    save_adapter,
)
from crabplus.adapters.peft_method import PEFT_PREFIX
from crabplus.cli.main import main


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


FAMILIES = ["unified", "modular"]  # I-LoRA through PEFT on both model families' LLMs


def logits(model, tok, family="unified"):
    batch = batch_of(tiny_thinker(tok, family=family), tok, [("the dog", "yes", 4, 100), ("a cat", "no", 2, 60)])
    with torch.no_grad():
        return model(**batch).logits


def peft_adapted(tok, family="unified", **fields):
    model = get_peft_model(
        tiny_thinker(tok, family=family), ILoRAPeftConfig(rank=4, alpha=8.0, num_experts=3, **fields)
    )
    randomize_adapters(model, seed=7)
    return model


def peft_native_state(model) -> dict[str, torch.Tensor]:
    """A PEFT-wrapped model's adapter tensors under our own keys (holder and adapter name dropped)."""
    return {
        k.removeprefix(PEFT_PREFIX).replace(".ilora_adapter.default.", "."): v
        for k, v in adapter_state_dict(model).items()
    }


@pytest.mark.parametrize("encoders", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_get_peft_model_adapts_apply_ilora_layers_with_our_layer(family, tok, encoders):
    ours = apply_ilora(
        tiny_thinker(tok, family=family), ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=encoders)
    )
    peft = get_peft_model(
        tiny_thinker(tok, family=family), ILoRAPeftConfig(rank=4, alpha=8.0, num_experts=3, encoders=encoders)
    )
    peft_paths = sorted(
        n.removeprefix(PEFT_PREFIX).removesuffix(".ilora_adapter.default") for n, _ in ilora_layers(peft)
    )
    assert peft_paths == sorted(n for n, _ in ilora_layers(ours))
    assert all(type(layer) is ILoRALinear for _, layer in ilora_layers(peft))
    trainable = {n for n, p in peft.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n for n in trainable)
    assert {k.removeprefix(PEFT_PREFIX).replace(".ilora_adapter.default.", ".") for k in trainable} == {
        n for n, p in ours.named_parameters() if p.requires_grad
    }
    base = tiny_thinker(tok, family=family)
    assert torch.equal(logits(peft, tok, family), logits(base, tok, family))  # B = 0 at init: the base model


@pytest.mark.parametrize("family", FAMILIES)
def test_peft_forward_equals_apply_ilora_with_the_same_weights(family, tok):
    peft = peft_adapted(tok, family)
    ours = apply_ilora(tiny_thinker(tok, family=family), ILoRAConfig(rank=4, alpha=8.0, num_experts=3))
    ours.load_state_dict(peft_native_state(peft), strict=False)
    assert not torch.equal(logits(peft, tok, family), logits(tiny_thinker(tok, family=family), tok, family))
    assert torch.equal(logits(peft, tok, family), logits(ours, tok, family))


@pytest.mark.parametrize("family", FAMILIES)
def test_save_pretrained_from_pretrained_round_trips_bit_exactly(family, tok, tmp_path):
    model = peft_adapted(tok, family, top_k=2)
    model.save_pretrained(tmp_path / "peft")
    meta = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert meta["peft_type"] == "ILORA" and meta["rank"] == 4 and meta["top_k"] == 2
    saved = load_file(str(tmp_path / "peft" / "adapter_model.safetensors"))
    assert set(saved) == {PEFT_PREFIX + k for k in peft_native_state(model)}  # our layout behind PEFT's prefix
    with _no_missing_key_warning():
        loaded = PeftModel.from_pretrained(
            tiny_thinker(tok, family=family), str(tmp_path / "peft"), local_files_only=True
        )
    for key, value in peft_native_state(model).items():
        assert torch.equal(peft_native_state(loaded)[key], value), key
    assert torch.equal(logits(model, tok, family), logits(loaded, tok, family))
    assert not any(p.requires_grad for p in loaded.parameters())  # inference by default, as PEFT does
    trainable = PeftModel.from_pretrained(tiny_thinker(tok, family=family), str(tmp_path / "peft"), is_trainable=True)
    assert {n for n, p in trainable.named_parameters() if p.requires_grad} == set(adapter_state_dict(trainable))


class _no_missing_key_warning:
    """PEFT warns when adapter keys are missing after a load; the shared base weight must not count."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings(record=True)
        self.caught = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        assert not [w for w in self.caught if "missing adapter keys" in str(w.message)]


@pytest.mark.parametrize("family", FAMILIES)
def test_merge_refuses_and_unload_gives_the_base_back(family, tok):
    model = peft_adapted(tok, family)
    with pytest.raises(NotImplementedError, match="merged"):
        model.merge_and_unload()
    base = peft_adapted(tok, family).unload()
    assert not list(ilora_layers(base))
    assert torch.equal(logits(base, tok, family), logits(tiny_thinker(tok, family=family), tok, family))


def test_our_adapter_and_the_converter_write_the_peft_layout(tok, tmp_path, capsys):
    ours = apply_ilora(tiny_thinker(tok), ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True))
    randomize_adapters(ours, seed=3)
    save_adapter(ours, tmp_path / "ours")
    assert main(["convert", "peft-ilora", str(tmp_path / "ours"), str(tmp_path / "peft")]) == 0
    loaded = PeftModel.from_pretrained(tiny_thinker(tok), str(tmp_path / "peft"), local_files_only=True)
    assert torch.equal(logits(ours, tok), logits(loaded, tok))
    assert torch.equal(logits(load_adapter(tiny_thinker(tok), tmp_path / "peft"), tok), logits(ours, tok))

    release = tmp_path / "finetune_weights.bin"
    torch.save(export_official_ilora(ours), release)
    assert (
        main(["convert", "official-ilora", str(release), str(tmp_path / "off"), "--alpha", "8", "--layout", "peft"])
        == 0
    )
    from_release = PeftModel.from_pretrained(tiny_thinker(tok), str(tmp_path / "off"), local_files_only=True)
    assert torch.equal(logits(from_release, tok), logits(ours, tok))
    assert main(["convert", "peft-ilora", str(tmp_path / "peft"), str(tmp_path / "again")]) == 1
    assert "not I-LoRA" in capsys.readouterr().err


def test_config_rejects_what_ilora_rejects():
    with pytest.raises(ValueError, match="top_k"):
        ILoRAPeftConfig(num_experts=2, top_k=3)
    with pytest.raises(ValueError, match="list of layer names"):
        ILoRAPeftConfig(target_modules="q_proj")


def test_a_converted_checkpoint_names_its_base_and_without_crabplus_peft_says_what_to_import(tok, tmp_path):
    """base_model_name_or_path was null, and PEFT without crabplus failed with a bare ``KeyError: 'ILORA'``."""
    import json
    import subprocess
    import sys

    from helpers.model import tiny_model_config

    from crabplus.model import attach_adapter, build_thinker, save_checkpoint

    base_cfg = tiny_model_config(adapter="none")
    save_checkpoint(tmp_path / "base", build_thinker(base_cfg, tok), tok, base_cfg)
    cfg = tiny_model_config(checkpoint=str(tmp_path / "base"))
    save_checkpoint(tmp_path / "run", attach_adapter(build_thinker(cfg, tok), cfg), tok, cfg)
    assert main(["convert", "peft-ilora", str(tmp_path / "run"), str(tmp_path / "peft")]) == 0
    written = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert written["base_model_name_or_path"] == str((tmp_path / "base").resolve())
    fresh = (
        "from peft import PeftConfig\nimport sys\nPeftConfig.from_pretrained(sys.argv[1])\n"
        "assert 'crabplus' not in sys.modules"
    )
    done = subprocess.run(
        [sys.executable, "-c", fresh, str(tmp_path / "peft")], capture_output=True, text=True, timeout=300
    )
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and last.startswith("KeyError") and "import crabplus.adapters.peft_method" in last
    loaded = PeftModel.from_pretrained(build_thinker(base_cfg, tok), str(tmp_path / "peft"), local_files_only=True)
    assert loaded.peft_config["default"].peft_type == "ILORA"
