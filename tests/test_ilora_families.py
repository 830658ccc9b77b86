"""I-LoRA inside each model family (the unified thinker and the modular model): the layer's gradients checked
numerically in float64 on the activations it really sees in that family's LLM, the adapted model equal (output
and every adapter gradient) to the release's per-head loop put in every adapted layer, and the task-conditioned
router on both, encoders adapted too. The save/load and PEFT round trips on both families are in
test_adapters_io.py and test_peft_method.py; the layer alone in test_ilora_lean.py."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers.model import batch_of, randomize_adapters, tiny_model_config, tiny_tokenizer

from crabplus.adapters import ILoRAConfig, ILoRALinear, RoutingRecorder, apply_ilora, ilora_layers, set_task_ids
from crabplus.adapters.reference import PerHeadILoRALinear
from crabplus.model import build_backbone

FAMILIES = ["unified", "modular"]
SPECS = [("the dog plays", "drum", 4, 100), ("a cat", "no", 2, 60)]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def adapted(tok, family: str, cfg: ILoRAConfig, scale: float = 0.2) -> torch.nn.Module:
    torch.manual_seed(0)
    model = apply_ilora(build_backbone(tiny_model_config(family=family), tok), cfg)
    randomize_adapters(model, scale=scale)
    return model


def llm_layer(model, suffix: str) -> tuple[str, ILoRALinear]:
    return next((n, m) for n, m in ilora_layers(model) if n.endswith(suffix) and "language_model" in n)


@pytest.mark.parametrize("family", FAMILIES)
def test_gradcheck_on_the_activations_of_each_familys_llm(tok, family):
    model = adapted(tok, family, ILoRAConfig(rank=2, alpha=4.0, num_experts=3)).eval()
    name, layer = llm_layer(model, "layers.1.mlp.down_proj")
    seen = []
    handle = layer.register_forward_hook(lambda _m, args, _out: seen.append(args[0].detach()))
    with torch.no_grad():
        model(**batch_of(model, tok, SPECS))
    handle.remove()
    x = seen[0][:, -3:].double().requires_grad_(True)  # [2, 3, d_in]: the last tokens of both samples
    layer64 = copy.deepcopy(layer).double().train()
    params = {k: v.detach().double().requires_grad_(True) for k, v in layer64.named_parameters() if ".lora_" in "." + k}
    assert set(params) == {"lora_A.weight", "lora_B.weight", "lora_route.weight"}, name

    def run(x, a, b, r):
        return torch.func.functional_call(
            layer64, {"lora_A.weight": a, "lora_B.weight": b, "lora_route.weight": r}, (x,)
        )

    # The router's softmax runs in float32 in every formulation (the contract), so the finite differences are
    # taken at a step float32 resolves (at 1e-6 its rounding gives errors of 0.9 on gradients of 5.7; at 1e-2,
    # 1e-4); a wrong gradient is off by far more.
    assert torch.autograd.gradcheck(
        run,
        (x, params["lora_A.weight"], params["lora_B.weight"], params["lora_route.weight"]),
        eps=1e-2,
        atol=1e-3,
        rtol=1e-3,
        fast_mode=True,
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_adapted_model_equals_the_release_per_head_loop(tok, family):
    # float64, so that only the formulations differ; the router's float32 logits still round differently in the
    # two (R x cast vs. x and R cast), which adapters of scale 0.2 amplify to 1e-4 at the logits, 0.05 to 1e-7.
    cfg = ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True)
    model = adapted(tok, family, cfg, scale=0.05).double().train()
    loop = copy.deepcopy(model)
    names = [n for n, _ in ilora_layers(loop)]
    for name in names:
        parent, _, child = name.rpartition(".")
        holder = loop.get_submodule(parent)
        setattr(holder, child, PerHeadILoRALinear(getattr(holder, child)))
    assert not list(ilora_layers(loop))
    batch = {
        k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v
        for k, v in batch_of(model, tok, SPECS).items()
    }
    torch.manual_seed(1)  # the same dropout masks in both (the modular model's Q-Formers drop out in training)
    out = model(**batch)
    torch.manual_seed(1)
    ref = loop(**batch)
    torch.testing.assert_close(out.logits, ref.logits, rtol=1e-6, atol=1e-6)
    out.loss.backward()
    ref.loss.backward()
    for name in names:
        ours, theirs = model.get_submodule(name), loop.get_submodule(name)
        scale = float(ours.lora_A.weight.grad.abs().max())
        torch.testing.assert_close(ours.lora_A.weight.grad, theirs.lora_A.grad, rtol=1e-5, atol=1e-6 * scale)
        torch.testing.assert_close(
            ours.lora_route.weight.grad,
            theirs.lora_route.grad,
            rtol=1e-5,
            atol=1e-6 * float(theirs.lora_route.grad.abs().max()),
        )
        stacked = torch.cat([b.grad for b in theirs.lora_B], dim=1)
        torch.testing.assert_close(ours.lora_B.weight.grad, stacked, rtol=1e-5, atol=1e-6 * float(stacked.abs().max()))


@pytest.mark.parametrize("family", FAMILIES)
def test_task_conditioned_router_with_adapted_encoders(tok, family):
    """Task ids reach the LLM's routers only; encoder layers (packed inputs in the thinker, per-frame ones in the
    modular model) keep the plain router and are recorded apart, per sample nowhere."""
    cfg = ILoRAConfig(rank=4, alpha=8.0, num_experts=3, encoders=True, task_conditioned=True, num_tasks=7)
    model = adapted(tok, family, cfg).eval()
    with torch.no_grad():
        for _, layer in ilora_layers(model):
            layer.lora_route.task.weight.normal_(std=2.0)
    batch = batch_of(model, tok, SPECS)
    routed = {}
    for ids in ([0, 0], [5, 5]):
        set_task_ids(model, torch.tensor(ids))
        with RoutingRecorder(model) as rec, torch.no_grad():
            model(**batch)
        routed[ids[0]] = rec
    llm = [n for n in routed[0].batched]
    assert llm and all("language_model" in n for n in llm)
    assert routed[0].packed and all("language_model" not in n for n in routed[0].packed)
    assert len(llm) + len(routed[0].packed) == len(list(ilora_layers(model)))
    name = llm[0]
    assert not torch.allclose(routed[0].weights(name), routed[5].weights(name))  # the task moves the LLM's routing
    for enc in routed[0].packed:  # and not the encoders'
        assert torch.equal(torch.cat(routed[0].packed[enc]), torch.cat(routed[5].packed[enc]))
