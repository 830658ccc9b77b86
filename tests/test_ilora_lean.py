"""The I-LoRA layer's hand-written backward and inference path (crabplus.adapters.kernels): gradients
checked numerically in float64, equal to the plain autograd formula and to the release's per-head loop,
bf16 products within bf16 tolerance of a float32 reference with float32 masters, and the bytes autograd
keeps for backward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from crabplus.adapters import ILoRAConfig, ILoRALinear
from crabplus.adapters.kernels import DownAndRoute, MixHeads
from crabplus.adapters.reference import PerHeadILoRALinear


def make_layer(d_in=24, d_out=20, dtype=torch.float32, seed=0, **cfg) -> ILoRALinear:
    torch.manual_seed(seed)
    cfg.setdefault("rank", 4)
    cfg.setdefault("alpha", 8.0)
    cfg.setdefault("num_experts", 3)
    layer = ILoRALinear(nn.Linear(d_in, d_out, dtype=dtype).requires_grad_(False), ILoRAConfig(**cfg))
    with torch.no_grad():
        layer.lora_B.weight.normal_(std=0.5)  # B is zero at init; give the heads something to mix
        layer.lora_route.weight.mul_(4.0)  # a router far from uniform
    return layer


def grads(layer: ILoRALinear, x: torch.Tensor, grad_out: torch.Tensor, seed: int = 7) -> dict[str, torch.Tensor]:
    """Output and the gradient of every adapter parameter and of x, for one forward + backward."""
    x = x.detach().clone().requires_grad_(True)
    layer.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    y = layer(x)
    y.backward(grad_out)
    out = {"y": y.detach(), "x": x.grad}
    out.update({name: p.grad for name, p in layer.named_parameters() if p.requires_grad})
    return out


def close(got: torch.Tensor, want: torch.Tensor, msg: str = "") -> None:
    """Equal up to float32 rounding: the router is float32 in every formulation (the contract), so float64
    layers agree to float32's precision relative to each tensor's scale, not to float64's. 1e-5 of the scale
    (about 80 float32 epsilons): under MKL's strict mode, which tests/conftest.py sets for the prediction tests,
    the router's float32 sums take another order and its gradient moved by 2.7e-6 of its scale; a wrong formula
    moves it by a whole order of the scale."""
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()), msg=msg)


def lean_and_plain(layer: ILoRALinear, x, grad_out) -> tuple[dict, dict]:
    lean = grads(layer, x, grad_out)
    ILoRALinear.lean = False
    try:
        plain = grads(layer, x, grad_out)
    finally:
        ILoRALinear.lean = True
    return lean, plain


def test_gradcheck_float64_both_functions():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 6, dtype=torch.float64, requires_grad=True)
    a = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    route = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, a, r: DownAndRoute.apply(x, a, r, 0.0), (x, a, route))

    def dropped(x, a, r):
        torch.manual_seed(5)  # every evaluation draws the same mask; backward replays it
        return DownAndRoute.apply(x, a, r, 0.4)

    assert torch.autograd.gradcheck(dropped, (x, a, route))
    y = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    z = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 5, 2, dtype=torch.float64).softmax(-1).requires_grad_(True)
    b = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    # MixHeads writes into y: give it a fresh copy each evaluation.
    assert torch.autograd.gradcheck(lambda y, z, g, b: MixHeads.apply(y.clone(), z, g, b, 1.5), (y, z, g, b))


@pytest.mark.parametrize(
    "options",
    [{}, {"dropout": 0.3}, {"top_k": 2}, {"task_conditioned": True, "num_tasks": 2, "balance_loss_weight": 0.1}],
)
def test_lean_layer_equals_the_plain_autograd_formula(options):
    layer = make_layer(dtype=torch.float64, **options).train()
    if options.get("task_conditioned"):
        with torch.no_grad():
            layer.lora_route.task.weight.normal_()
        layer.lora_route.task_ids = torch.tensor([1, 0])
    x = torch.randn(2, 7, 24, dtype=torch.float64)
    grad_out = torch.randn(2, 7, 20, dtype=torch.float64)
    lean, plain = lean_and_plain(layer, x, grad_out)
    assert lean.keys() == plain.keys() and len(lean) >= 5
    for key in lean:
        close(lean[key], plain[key], msg=key)


def test_dropout_mask_is_the_one_nn_dropout_draws_on_cpu():
    """Same seed, same mask as the former layer's nn.Dropout: float32 CPU training is unchanged."""
    layer = make_layer(dropout=0.5).train()
    x = torch.randn(64, 24)
    lean, plain = lean_and_plain(layer, x, torch.randn(64, 20))
    for key in lean:
        close(lean[key], plain[key], msg=key)


def test_lean_layer_equals_the_release_per_head_loop():
    layer = make_layer(dtype=torch.float64).train()
    x = torch.randn(9, 24, dtype=torch.float64)
    grad_out = torch.randn(9, 20, dtype=torch.float64)
    lean = grads(layer, x, grad_out)
    loop = PerHeadILoRALinear(layer)
    xr = x.clone().requires_grad_(True)
    y = loop(xr)
    y.backward(grad_out)
    close(lean["y"], y.detach())
    close(lean["x"], xr.grad)
    close(lean["lora_A.weight"], loop.lora_A.grad)
    close(lean["lora_route.weight"], loop.lora_route.grad)
    close(lean["lora_B.weight"], torch.cat([b.grad for b in loop.lora_B], dim=1))


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_bf16_products_match_a_float32_reference(dropout):
    """A bf16 base: products in bf16, float32 masters and router; the output and every gradient within
    bf16's tolerance of the same layer computed in float32."""
    ref = make_layer(d_in=64, d_out=48, rank=8, alpha=16.0, dropout=dropout).train()
    half = make_layer(d_in=64, d_out=48, rank=8, alpha=16.0, dropout=dropout).train()
    with torch.no_grad():
        half.weight.data = half.weight.data.to(torch.bfloat16)
        half.bias.data = half.bias.data.to(torch.bfloat16)
    assert all(p.dtype == torch.float32 for p in half.lora_parameters())
    x = torch.randn(4, 16, 64).to(torch.bfloat16)  # the reference sees the same (bf16-representable) values
    grad_out = torch.randn(4, 16, 48).to(torch.bfloat16)
    got = grads(half, x, grad_out)
    want = grads(ref, x.float(), grad_out.float())
    assert got["y"].dtype == torch.bfloat16 and got["x"].dtype == torch.bfloat16
    for key in want:
        assert got[key].dtype == want[key].dtype or key in ("y", "x")
        scale = want[key].abs().max()
        err = (got[key].float() - want[key]).abs().max()
        assert err <= 0.02 * scale, f"{key}: max error {err:.3g} vs max |value| {scale:.3g}"


def test_float32_masters_keep_updates_below_bf16_resolution():
    layer = make_layer(d_in=32, d_out=16)
    layer.weight.data = layer.weight.data.to(torch.bfloat16)
    layer.bias.data = layer.bias.data.to(torch.bfloat16)
    opt = torch.optim.SGD(layer.lora_parameters(), lr=1.0)
    before = {n: p.detach().clone() for n, p in layer.named_parameters() if p.requires_grad}
    y = layer(torch.randn(8, 32, dtype=torch.bfloat16))
    (y.float().sum() * 1e-6).backward()  # gradients far below bf16's resolution of the weights
    assert all(p.grad.dtype == torch.float32 for p in layer.lora_parameters())
    opt.step()
    for name, p in layer.named_parameters():
        if not p.requires_grad:
            continue
        moved = p.detach() != before[name]
        lost_in_bf16 = p.detach().to(torch.bfloat16) == before[name].to(torch.bfloat16)
        assert p.dtype == torch.float32 and moved.any(), name
        assert (moved & lost_in_bf16).sum() > 0.5 * moved.sum(), name  # bf16 masters would have kept nothing


def saved(step) -> tuple[dict[int, int], list[torch.Tensor]]:
    """Distinct storages (data_ptr -> bytes) autograd keeps during ``step()``, and the tensors it packed."""
    seen, packed = {}, []

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        packed.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return seen, packed


@pytest.mark.parametrize(("dropout", "replay"), [(0.0, False), (0.1, True), (0.1, False)])
def test_saved_activations_are_x_z_and_g(dropout, replay, monkeypatch):
    """Beyond the frozen layer's (which keeps no activation: its weight is frozen): the input x itself
    (the same tensor object, no copy; in a block q/k/v and gate/up share it), h = [z, logits] [T, r + N]
    and g [T, N] float32; with dropout, a bool mask [T, d_in] on the CPU, nothing on a GPU (backward
    replays the RNG draw; its state sits on the autograd node, 16 bytes on a GPU, outside saved tensors)."""
    from crabplus.adapters import kernels

    monkeypatch.setattr(kernels, "REPLAY_DROPOUT", {"cpu"} if replay else set())
    t, d_in, d_out, r, n = 64, 48, 96, 8, 3
    layer = make_layer(d_in=d_in, d_out=d_out, rank=r, alpha=16.0, dropout=dropout).train()
    params = {p.untyped_storage().data_ptr() for p in layer.parameters()}
    x = torch.randn(t, d_in, requires_grad=True)
    frozen, _ = saved(lambda: nn.functional.linear(x, layer.weight, layer.bias))
    got, packed = saved(lambda: layer(x))
    activations = {k: v for k, v in got.items() if k not in params}
    frozen_act = {k: v for k, v in frozen.items() if k not in params}
    assert any(p is x for p in packed)  # x kept as itself
    mask = t * d_in if dropout > 0 and not replay else 0
    budget = sum(frozen_act.values()) + x.nbytes + t * (r + n) * 4 + t * n * 4 + mask
    assert sum(activations.values()) <= budget, (activations, budget)
    assert not any(v >= t * n * r * 4 for k, v in activations.items() if k != x.untyped_storage().data_ptr())


def test_inference_path_equals_the_training_path_and_follows_updates():
    layer = make_layer(top_k=2).eval()
    x = torch.randn(3, 5, 24)
    with torch.no_grad():
        fast = layer(x)
    with torch.enable_grad():
        trained = layer(x.clone().requires_grad_(True)).detach()
    torch.testing.assert_close(fast, trained)
    with torch.no_grad():
        layer.lora_B.weight.mul_(2.0)  # an optimizer step or a load: the kept casts must follow
        torch.testing.assert_close(
            layer(x) - nn.functional.linear(x, layer.weight, layer.bias),
            2 * (trained - nn.functional.linear(x, layer.weight, layer.bias)),
        )
    layer.train()
    assert "_inference_cache" not in layer.__dict__


def test_autocast_runs_the_products_in_its_dtype_with_float32_masters():
    """A float32 base under bf16 autocast (``train.bf16``): bf16 products, float32 gradients for the
    masters and the input, within bf16 tolerance of the plain float32 layer."""
    layer = make_layer(d_in=64, d_out=48, rank=8, alpha=16.0).train()
    x = torch.randn(4, 16, 64)
    grad_out = torch.randn(4, 16, 48)
    want = grads(layer, x, grad_out)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = grads(layer, x, grad_out.to(torch.bfloat16))
    assert got["y"].dtype == torch.bfloat16 and got["x"].dtype == torch.float32
    for key in want:
        err = (got[key].float() - want[key]).abs().max()
        assert err <= 0.03 * want[key].abs().max(), key


@pytest.mark.parametrize("replay", [False, True])
def test_dropout_mask_kept_or_replayed_gives_the_same_gradients(replay, monkeypatch):
    """The CPU keeps a bool mask, a GPU replays the RNG draw in backward (kernels.REPLAY_DROPOUT); both
    equal the plain formula, and the replay keeps no [T, d_in] tensor beyond x."""
    from crabplus.adapters import kernels

    monkeypatch.setattr(kernels, "REPLAY_DROPOUT", {"cpu"} if replay else set())
    layer = make_layer(dropout=0.4).train()
    x = torch.randn(40, 24)
    lean, plain = lean_and_plain(layer, x, torch.randn(40, 20))
    for key in lean:
        close(lean[key], plain[key], msg=key)
    xg = x.clone().requires_grad_(True)
    _, packed = saved(lambda: layer(xg))
    big = [tuple(t.shape) for t in packed if t.numel() >= x.numel() and t is not xg and t.dtype != torch.float32]
    assert big == ([] if replay else [tuple(x.shape)])  # a bool [T, d_in] only when not replayed
    assert all(t.dtype == torch.bool for t in packed if t.dtype != torch.float32)


def test_gradcheck_replayed_dropout(monkeypatch):
    from crabplus.adapters import kernels

    monkeypatch.setattr(kernels, "REPLAY_DROPOUT", {"cpu"})
    x = torch.randn(7, 6, dtype=torch.float64, requires_grad=True)
    a = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    route = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)

    def dropped(x, a, r):
        torch.manual_seed(5)
        return DownAndRoute.apply(x, a, r, 0.4)

    assert torch.autograd.gradcheck(dropped, (x, a, route))
