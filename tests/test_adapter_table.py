"""Adapters are one table (``crabplus.adapters.kinds``): a new kind is its own files plus one ``register_adapter``
row. A toy kind (tests/helpers/toy_adapter.py) registered here trains through the real recipe, is saved with
the run's checkpoint and loads back from it, with no edit anywhere else; the built-in rows dispatch the same way."""

from __future__ import annotations

import pytest
import torch
from helpers import toy_adapter
from helpers.model import batch_of
from helpers.train import tiny_run_config

from crabplus.adapters import ADAPTER_KINDS, adapter_kind, read_adapter_config, unregister_adapter
from crabplus.config.core import ConfigError
from crabplus.model.config import ModelConfig


@pytest.fixture
def toy_kind():
    kind = toy_adapter.register()
    yield kind
    unregister_adapter(kind.name)


def test_the_table_holds_the_built_in_kinds_and_refuses_what_it_does_not_know():
    assert {"ilora", "lora", "peft-ilora"} <= set(ADAPTER_KINDS)
    assert adapter_kind("ilora").section == "ilora" and adapter_kind("lora").peft_type == "LORA"
    with pytest.raises(ConfigError, match="model.adapter: expected one of"):
        ModelConfig(adapter="toy_scale")  # not registered (yet)
    with pytest.raises(ConfigError, match="loads only"):
        ModelConfig(adapter="peft-ilora")
    with pytest.raises(ConfigError, match="adapter_options"):
        ModelConfig(adapter="ilora", adapter_options={"rank": 4})  # I-LoRA reads model.ilora, not these
    with pytest.raises(ValueError, match="built in"):
        unregister_adapter("ilora")


def test_a_kind_without_a_section_reads_adapter_options(toy_kind):
    cfg = ModelConfig(adapter="toy_scale", adapter_options={"target_modules": ["q_proj"], "init": 0.5})
    assert cfg.adapter_settings() == toy_adapter.ToyScaleConfig(["q_proj"], 0.5)
    with pytest.raises(ConfigError, match="model.adapter_options"):
        ModelConfig(adapter="toy_scale", adapter_options={"rank": 4})  # a key its config class does not have


@pytest.mark.integration  # trains three steps
def test_a_toy_kind_trains_saves_and_loads_through_the_table(toy_kind, small_avsynth, tmp_path):
    from crabplus.model import load_checkpoint
    from crabplus.train import train

    cfg = tiny_run_config(
        small_avsynth,
        tmp_path / "toy",
        "model.adapter=toy_scale",
        "model.adapter_options={target_modules: [q_proj, v_proj, up_proj]}",
        "train.learning_rate=1e-2",
        "train.warmup_ratio=0.0",
    )
    result = train(cfg)
    assert result.completed and result.steps == 3
    assert read_adapter_config(result.checkpoint / "adapter")["adapter"] == "toy_scale"
    model, tok, model_cfg = load_checkpoint(result.checkpoint)
    assert model_cfg.adapter == "toy_scale" and model_cfg.adapter_settings().target_modules[-1] == "up_proj"
    layers = toy_adapter._layers(model)
    assert layers and all(name.rsplit(".", 1)[-1] in ("q_proj", "v_proj", "up_proj") for name, _ in layers)
    trained = {k: v for k, v in model.state_dict().items() if ".lora_" in k}
    assert trained and any(v.abs().max() > 0 for v in trained.values())  # it learned something
    # the loaded model computes what the adapter adds: without it (the base alone) the logits differ
    batch = batch_of(model, tok, [("the dog plays", "drum", 4, 100)])
    with torch.no_grad():
        adapted = model.eval()(**batch).logits
        for _, layer in layers:
            layer.lora_scale.zero_()
            layer.lora_shift.zero_()
        base = model(**batch).logits
    assert not torch.allclose(adapted, base)
