"""Adapter-only save/load (I-LoRA and PEFT LoRA) and the official release layout: round trips are
bit-exact, and a wrong key, a missing key or a wrong shape fails loudly, naming it; the round trips on both model
families (the unified thinker and the modular model)."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.model import batch_of, randomize_adapters, tiny_thinker, tiny_tokenizer
from safetensors.torch import load_file

from crabplus.adapters import (
    AdapterLoadError,
    ILoRAConfig,
    LoRAConfig,
    adapter_state_dict,
    apply_ilora,
    apply_lora,
    export_official_ilora,
    ilora_layers,
    load_adapter,
    load_official_ilora,
    save_adapter,
    trainable_parameters,
)
from crabplus.adapters.official import RELEASE_TENSOR_COUNT

CFG = ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True)
FAMILIES = ["unified", "modular"]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def adapted(tok, cfg=CFG, seed=0, family="unified"):
    model = apply_ilora(tiny_thinker(tok, seed, family), cfg)
    randomize_adapters(model, seed=seed + 10)
    return model


def assert_same_adapter(a, b):
    sa, sb = adapter_state_dict(a), adapter_state_dict(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize("family", FAMILIES)
def test_ilora_save_load_round_trips_bit_exactly(family, tok, tmp_path):
    model = adapted(tok, family=family)
    save_adapter(model, tmp_path / "ad")
    files = sorted(p.name for p in (tmp_path / "ad").iterdir())
    assert files == ["adapter.safetensors", "adapter_config.json"]
    meta = json.loads((tmp_path / "ad" / "adapter_config.json").read_text())
    assert meta["adapter"] == "ilora" and meta["config"]["rank"] == 4 and meta["config"]["encoders"] is True
    assert set(load_file(str(tmp_path / "ad" / "adapter.safetensors"))) == set(adapter_state_dict(model))

    loaded = load_adapter(tiny_thinker(tok, family=family), tmp_path / "ad")  # applies I-LoRA from the saved config
    assert_same_adapter(model, loaded)
    assert all(".lora_" in n for n, _ in trainable_parameters(loaded))
    batch = batch_of(model, tok, [("the dog", "yes", 4, 100)])
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded(**batch).logits)
    save_adapter(loaded, tmp_path / "ad")  # overwriting an adapter directory works
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


@pytest.mark.parametrize("family", FAMILIES)
def test_ilora_load_refuses_a_model_with_other_settings(family, tok, tmp_path):
    save_adapter(adapted(tok, family=family), tmp_path / "ad")
    other = apply_ilora(tiny_thinker(tok, family=family), ILoRAConfig(rank=4, alpha=4.0, num_experts=3, encoders=True))
    with pytest.raises(AdapterLoadError, match="alpha"):
        load_adapter(other, tmp_path / "ad")
    llm_only = ILoRAConfig(rank=4, alpha=8.0, num_experts=3)
    cfg = json.loads((tmp_path / "ad" / "adapter_config.json").read_text())
    cfg["config"]["encoders"] = False
    (tmp_path / "ad" / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(AdapterLoadError, match="modules"):
        load_adapter(apply_ilora(tiny_thinker(tok, family=family), llm_only), tmp_path / "ad")


@pytest.mark.parametrize("family", FAMILIES)
def test_peft_lora_save_load_round_trips_bit_exactly(family, tok, tmp_path):
    base = tiny_thinker(tok, family=family)
    llm_ilora = apply_ilora(tiny_thinker(tok, family=family), ILoRAConfig(rank=4, alpha=8.0, num_experts=3))
    names_ilora = [n for n, _ in ilora_layers(llm_ilora)]
    model = apply_lora(base, LoRAConfig(rank=6, alpha=12.0))
    lora_modules = sorted(
        {n.split(".lora_")[0].removeprefix("base_model.model.") for n, _ in trainable_parameters(model)}
    )
    assert lora_modules == sorted(names_ilora)  # the same layers as I-LoRA
    randomize_adapters(model)
    save_adapter(model, tmp_path / "lora")
    assert (tmp_path / "lora" / "adapter_model.safetensors").is_file()
    loaded = load_adapter(tiny_thinker(tok, family=family), tmp_path / "lora")
    assert_same_adapter(model, loaded)
    batch = batch_of(base, tok, [("a cat", "no", 2, 60)])
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded(**batch).logits)


def test_official_layout_round_trips(tok):
    model = adapted(tok)
    official = export_official_ilora(model)
    n_modules = len(list(ilora_layers(model)))
    assert len(official) == n_modules * (3 + 2)  # A, B0..B2, route per module, as the release
    assert "base_model.model.model.layers.0.self_attn.q_proj.lora_B2.weight" in official  # release's LLM path
    assert "base_model.model.audio_tower.layers.0.self_attn.k_proj.lora_A.weight" in official
    assert "base_model.model.visual.blocks.1.mlp.down_proj.lora_route.weight" in official
    assert official["base_model.model.model.layers.0.self_attn.q_proj.lora_B1.weight"].shape == (128, 4)
    fresh = apply_ilora(tiny_thinker(tok), CFG)
    load_official_ilora(fresh, official)
    assert_same_adapter(model, fresh)
    # Without the PEFT prefix, and with the full Omni model's extra `thinker.` prefix, too.
    for prefix in ("", "thinker."):
        again = apply_ilora(tiny_thinker(tok), CFG)
        load_official_ilora(again, {prefix + k.removeprefix("base_model.model."): v for k, v in official.items()})
        assert_same_adapter(model, again)
    assert RELEASE_TENSOR_COUNT == (28 * 7 + 32 * 3 + 32 * 3) * 5


@pytest.mark.parametrize(
    "damage, message",
    [
        ("drop", "missing keys"),
        ("rename", "unexpected keys"),
        ("shape", "wrong shapes"),
        ("extra_head", "unexpected keys"),
    ],
)
def test_official_import_fails_loudly(tok, damage, message):
    official = export_official_ilora(adapted(tok))
    key = "base_model.model.model.layers.1.mlp.up_proj.lora_B1.weight"
    if damage == "drop":
        del official[key]
    elif damage == "rename":
        official[key.replace("up_proj", "upp_proj")] = official.pop(key)
    elif damage == "shape":
        official[key] = torch.zeros(official[key].shape[0], 5)
    else:
        official[key.replace("lora_B1", "lora_B3")] = official[key]
    with pytest.raises(AdapterLoadError, match=message) as info:
        load_official_ilora(apply_ilora(tiny_thinker(tok), CFG), official)
    assert "mlp.up_proj" in str(info.value)


def test_official_import_into_an_llm_only_model_names_the_encoder_keys(tok):
    official = export_official_ilora(adapted(tok))
    with pytest.raises(AdapterLoadError, match="audio_tower") as info:
        load_official_ilora(apply_ilora(tiny_thinker(tok), ILoRAConfig(rank=4, alpha=8.0, num_experts=3)), official)
    assert "unexpected keys" in str(info.value)
    with pytest.raises(AdapterLoadError, match="no I-LoRA layers"):
        load_official_ilora(tiny_thinker(tok), official)
