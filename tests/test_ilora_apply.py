"""apply_ilora on the tiny thinker, on the modular tiny model and on a plain model: targets, freezing, equality at
init, routing records (the adapters package applies to both model families unchanged)."""

from __future__ import annotations

import pytest
import torch
from helpers.model import batch_of, randomize_adapters, tiny_model_config, tiny_tokenizer
from torch import nn

from crabplus.adapters import (
    ILoRAConfig,
    ILoRALinear,
    RoutingRecorder,
    adapter_state_dict,
    apply_ilora,
    ilora_layers,
    is_adapter_key,
    trainable_parameters,
)
from crabplus.model import build_backbone

FAMILIES = ["unified", "modular"]
LLM_PREFIX = {"unified": "model.language_model.", "modular": "language_model."}


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def fresh(tok, seed=0, family="unified"):
    torch.manual_seed(seed)
    return build_backbone(tiny_model_config(family=family), tok).eval()


def test_targets_are_the_llm_projections_unless_encoders(tok):
    model = apply_ilora(fresh(tok), ILoRAConfig(rank=4, alpha=8.0, num_experts=3))
    names = [n for n, _ in ilora_layers(model)]
    layers = model.config.text_config.num_hidden_layers
    assert len(names) == layers * 7
    assert all(n.startswith("model.language_model.layers.") for n in names)
    assert {n.rsplit(".", 1)[1] for n in names} == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    assert not isinstance(model.lm_head, ILoRALinear)

    enc = apply_ilora(fresh(tok), ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True))
    names = [n for n, _ in ilora_layers(enc)]
    audio = [n for n in names if n.startswith("model.audio_tower.")]
    vision = [n for n in names if n.startswith("model.visual.")]
    # What the release's suffix match hits (the release; docs/model.md): audio q/k/v, vision MLP gate/up/down.
    assert len(audio) == model.config.audio_config.encoder_layers * 3
    assert {n.rsplit(".", 1)[1] for n in audio} == {"q_proj", "k_proj", "v_proj"}
    assert len(vision) == model.config.vision_config.depth * 3
    assert all(".mlp." in n for n in vision)
    assert len(names) == layers * 7 + len(audio) + len(vision)


def test_modular_targets_are_the_llm_projections_unless_encoders(tok):
    """The same rule on the modular model: the causal LM's seven projections; with ``encoders`` also the CLIP
    tower's and the Whisper encoder's q/k/v (its out_proj and fc1/fc2 are not target names); never a
    projector (the Q-Former's layers are query/key/value/dense, the MLP's linear_1/linear_2)."""
    model = apply_ilora(fresh(tok, family="modular"), ILoRAConfig(rank=4, alpha=8.0, num_experts=3))
    names = [n for n, _ in ilora_layers(model)]
    layers = model.config.text_config.num_hidden_layers
    assert len(names) == layers * 7 and all(n.startswith("language_model.model.layers.") for n in names)
    assert not isinstance(model.language_model.lm_head, ILoRALinear)
    enc = [
        n
        for n, _ in ilora_layers(
            apply_ilora(fresh(tok, family="modular"), ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True))
        )
    ]
    vision = [n for n in enc if n.startswith("visual.")]
    audio = [n for n in enc if n.startswith("audio_tower.")]
    assert len(vision) == model.config.vision_config.num_hidden_layers * 3
    assert len(audio) == model.config.audio_config.encoder_layers * 3
    assert {n.rsplit(".", 1)[1] for n in vision + audio} == {"q_proj", "k_proj", "v_proj"}
    assert len(enc) == layers * 7 + len(vision) + len(audio)


@pytest.mark.parametrize("family", FAMILIES)
def test_only_adapter_parameters_train_and_are_saved(family, tok):
    model = apply_ilora(fresh(tok, family=family), ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True))
    trainable = trainable_parameters(model)
    assert trainable and all(is_adapter_key(n) for n, _ in trainable)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and not any(is_adapter_key(n) for n in frozen)
    assert set(adapter_state_dict(model)) == {n for n, _ in trainable}
    # A backward pass gives gradients to adapters only.
    batch = batch_of(model, tok, [("the dog", "yes", 4, 100)])
    model.train()
    randomize_adapters(model)  # so that A and the router get gradients too (B = 0 blocks them)
    model(**batch).loss.backward()
    assert all(p.grad is not None for _, p in trainable)
    assert all(p.grad is None for n, p in model.named_parameters() if not p.requires_grad)


@pytest.mark.parametrize("family", FAMILIES)
def test_adapted_thinker_equals_the_base_at_init(family, tok):
    model = fresh(tok, family=family)
    batch = batch_of(model, tok, [("the dog plays", "drum", 4, 100), ("a cat", "no", 2, 60)])
    with torch.no_grad():
        before = model(**batch).logits
        apply_ilora(model, ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True))
        after = model(**batch).logits
    assert torch.equal(before, after)
    randomize_adapters(model)
    with torch.no_grad():
        assert not torch.allclose(before, model(**batch).logits)


@pytest.mark.parametrize("family", FAMILIES)
def test_state_dict_keys_of_the_base_do_not_change(family, tok):
    model = fresh(tok, family=family)
    keys = set(model.state_dict())
    apply_ilora(model, ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True))
    assert {k for k in model.state_dict() if not is_adapter_key(k)} == keys


def test_plain_model_paths_are_its_own_and_double_apply_fails():
    model = nn.Sequential()
    model.add_module("visual", nn.Sequential())
    model.visual.add_module("up_proj", nn.Linear(4, 4))
    model.add_module("up_proj", nn.Linear(4, 4))
    model.add_module("other", nn.Linear(4, 4))
    apply_ilora(model, ILoRAConfig(rank=2, alpha=4.0, num_experts=2, target_modules=["up_proj"]))
    assert [n for n, _ in ilora_layers(model)] == ["up_proj"]
    with pytest.raises(ValueError, match="already"):
        apply_ilora(model, ILoRAConfig(rank=2, alpha=4.0, num_experts=2, target_modules=["up_proj"]))
    with pytest.raises(ValueError, match="no nn.Linear"):
        apply_ilora(nn.Sequential(nn.Linear(2, 2)), ILoRAConfig(rank=2, alpha=4.0, num_experts=2))


@pytest.mark.parametrize("family", FAMILIES)
def test_routing_recorder_summarises_per_sample_and_layer(family, tok):
    model = apply_ilora(fresh(tok, family=family), ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True))
    randomize_adapters(model)
    batch = batch_of(model, tok, [("the dog plays", "drum", 4, 100), ("a cat", "no", 2, 60)])
    with RoutingRecorder(model) as rec, torch.no_grad():
        model(**batch)
    per_sample = rec.summary(batch["attention_mask"])
    llm_layers = [n for n, _ in ilora_layers(model) if n.startswith(LLM_PREFIX[family])]
    assert len(per_sample) == 2 and sorted(per_sample[0]) == sorted(llm_layers)
    for sample in per_sample:
        for weights in sample.values():
            assert len(weights) == 3 and abs(sum(weights) - 1) < 1e-5
    # The summary is the mean over valid tokens only: padding does not count.
    name = llm_layers[0]
    g = rec.weights(name)
    valid = batch["attention_mask"][1].bool()
    torch.testing.assert_close(torch.tensor(per_sample[1][name]), g[1, valid].mean(0))
    assert rec.packed  # encoder layers are recorded, packed
    with pytest.raises(ValueError, match="attention_mask"):
        rec.summary(batch["attention_mask"][:, 1:])
    model(**batch)  # hooks removed on exit: nothing more recorded
    assert rec.weights(name).shape == g.shape
