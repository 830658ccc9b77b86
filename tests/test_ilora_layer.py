"""The I-LoRA layer against its contract (docs/model.md): the release's per-head formula, the router's
invariants, dropout on the adapter path only, and the options (top-k, balance loss, task router)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from crabplus.adapters import ILoRAConfig, ILoRALinear, apply_ilora, balance_loss, set_task_ids
from crabplus.adapters.reference import PerHeadILoRALinear


def make_layer(d_in=24, d_out=20, bias=True, seed=0, **cfg) -> ILoRALinear:
    torch.manual_seed(seed)
    cfg.setdefault("rank", 4)
    cfg.setdefault("alpha", 8.0)
    cfg.setdefault("num_experts", 3)
    layer = ILoRALinear(nn.Linear(d_in, d_out, bias=bias), ILoRAConfig(**cfg))
    with torch.no_grad():
        layer.lora_B.weight.normal_()  # B is zero at init; give the heads something to mix
    return layer


def test_at_init_the_layer_equals_its_base():
    torch.manual_seed(0)
    base = nn.Linear(16, 12)
    layer = ILoRALinear(base, ILoRAConfig(rank=4, alpha=8.0, num_experts=3))
    x = torch.randn(2, 5, 16)
    assert torch.equal(layer(x), base(x))
    assert layer.weight is base.weight and layer.bias is base.bias  # the base's own Parameters, not copies


@pytest.mark.parametrize("shape", [(7, 24), (2, 5, 24)])
@pytest.mark.parametrize("bias", [True, False])
def test_stacked_product_equals_the_release_per_head_formula(shape, bias):
    layer = make_layer(bias=bias)
    x = torch.randn(*shape)
    expected = PerHeadILoRALinear(layer)(x)
    # Also the formula written out here, independent of the reference module.
    g = torch.softmax(x @ layer.lora_route.weight.T, dim=-1)
    z = x @ layer.lora_A.weight.T
    heads = layer.lora_B.weight.split(layer.rank, dim=1)
    by_hand = nn.functional.linear(x, layer.weight, layer.bias) + sum(
        g[..., i : i + 1] * (z @ b.T) * layer.scale for i, b in enumerate(heads)
    )
    out = layer(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, by_hand, atol=1e-5, rtol=1e-5)


def test_router_weights_are_a_distribution_in_float32():
    layer = make_layer()
    g = layer.lora_route(torch.randn(3, 9, 24).to(torch.bfloat16))
    assert g.dtype == torch.float32 and g.shape == (3, 9, 3)
    assert (g >= 0).all()
    torch.testing.assert_close(g.sum(-1), torch.ones(3, 9))


@pytest.mark.parametrize("k", [1, 2])
def test_top_k_keeps_exactly_k_heads(k):
    layer = make_layer(num_experts=4, top_k=k)
    g = layer.lora_route(torch.randn(50, 24))
    assert ((g > 0).sum(-1) == k).all()
    torch.testing.assert_close(g.sum(-1), torch.ones(50))
    dense = make_layer(num_experts=4).lora_route(torch.randn(50, 24))
    assert ((dense > 0).sum(-1) == 4).all()


def test_dropout_is_on_the_adapter_path_only():
    layer = make_layer(dropout=0.5).train()
    x = torch.randn(64, 24)
    seen = []
    layer.lora_route.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    torch.manual_seed(3)
    y1 = layer(x)
    assert torch.equal(seen[0], x)  # the router sees x itself
    torch.manual_seed(4)
    y2 = layer(x)
    assert not torch.allclose(y1, y2)  # the adapter path is dropped out
    layer.eval()
    torch.testing.assert_close(layer(x), PerHeadILoRALinear(layer).eval()(x), atol=1e-5, rtol=1e-5)


def test_half_precision_base_keeps_float32_adapters():
    torch.manual_seed(0)
    base = nn.Linear(16, 8).to(torch.bfloat16)
    layer = ILoRALinear(base, ILoRAConfig(rank=4, alpha=8.0, num_experts=2))
    assert layer.lora_A.weight.dtype == torch.float32 and layer.weight.dtype == torch.bfloat16
    assert layer(torch.randn(3, 16, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_balance_loss_is_one_when_balanced_and_trains_the_router():
    model = nn.Sequential()
    model.add_module("q_proj", nn.Linear(24, 24))
    apply_ilora(
        model, ILoRAConfig(rank=4, alpha=8.0, num_experts=3, balance_loss_weight=0.5, target_modules=["q_proj"])
    )
    router = model.q_proj.lora_route
    with torch.no_grad():
        router.weight.zero_()  # uniform weights: P_i = 1/3 whatever the arg-max shares are
    model(torch.randn(40, 24))
    torch.testing.assert_close(balance_loss(model), torch.tensor(0.5))
    with torch.no_grad():
        router.weight.normal_(std=3.0)  # a skewed router
    model(torch.randn(40, 24))
    loss = balance_loss(model)
    assert loss > 0.5
    loss.backward()
    assert router.weight.grad is not None and router.weight.grad.abs().sum() > 0
    model.eval()
    model(torch.randn(4, 24))
    assert balance_loss(model) == 0  # only training forwards record it


def test_balance_loss_is_zero_when_off():
    model = nn.Sequential()
    model.add_module("q_proj", nn.Linear(8, 8))
    apply_ilora(model, ILoRAConfig(rank=2, alpha=4.0, num_experts=2, target_modules=["q_proj"]))
    model(torch.randn(3, 8))
    assert balance_loss(model) == 0


def test_task_conditioned_router_starts_plain_and_separates_tasks():
    layer = make_layer(task_conditioned=True, num_tasks=3)
    plain = make_layer()
    plain.load_state_dict({k: v for k, v in layer.state_dict().items() if ".task." not in k})
    x = torch.randn(2, 6, 24)
    with pytest.raises(RuntimeError, match="set_task_ids"):
        layer(x)
    set_task_ids(layer, torch.tensor([0, 2]))
    torch.testing.assert_close(layer(x), plain(x))  # task bias is zero at init
    with torch.no_grad():
        layer.lora_route.task.weight.normal_(std=2.0)
    g = layer.lora_route(x)
    g_swapped = (set_task_ids(layer, torch.tensor([2, 0])), layer.lora_route(x))[1]
    assert not torch.allclose(g, g_swapped)
    assert layer.lora_route(torch.randn(7, 24)).shape == (7, 3)  # packed (encoder) inputs: plain router
    set_task_ids(layer, torch.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="batch of 2"):
        layer(x)
