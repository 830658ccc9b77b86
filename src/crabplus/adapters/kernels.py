"""The I-LoRA adapter product with a hand-written backward: mixed precision as AMP does it, and only
what backward needs kept between the passes (docs/model.md).

Training, two :class:`torch.autograd.Function` s around the router:

    h = x [A; R]^T               one GEMM of the stacked weight, [T, r + N]   (DownAndRoute)
    z, logits = h[:, :r], h[:, r:]
    g = softmax(logits)          float32, plain autograd inside ILoRARouter (top-k, task bias, hooks)
    y += s B (g (x) z)           one GEMM of inner size N r, added into y in place   (MixHeads)

Precision: the adapter weights are float32 masters; every product runs in the input's dtype (bf16 /
fp16 on a GPU: tensor cores), each master cast to it as the product needs it, as autocast does; the
router's softmax is float32 (its logits come out of the stacked GEMM, which accumulates in float32 and
rounds once to the compute dtype, as under autocast). Weight gradients are cast back to float32 for
the masters.

Saved for backward: x (the very tensor object the layer received, no copy or cast), h [T, r + N] in the
compute dtype (z and the logits) and g [T, N] float32 (the softmax's own output, shared with it). The
[T, N r] mixture g (x) z is recomputed in backward, never stored. The float32 masters are saved as
themselves (parameters, no bytes) and recast in backward.

Dropout (z = A dropout(x), the router reads x itself) cannot share the GEMM: with dropout active z and
the logits are two products. On a GPU its mask is not saved: the forward records the RNG state before
drawing it, and backward replays the same draw (a bool mask would cost T d_in bytes per layer, a
dropped copy of x 2 T d_in in bf16; the replay costs one Bernoulli draw of [T, d_in] in backward, a
few microseconds). On a CPU, where that draw is slow, a bool mask [T, d_in] is kept instead
(:data:`REPLAY_DROPOUT`). The draw is the one CPU ``nn.Dropout`` makes (``bernoulli_(1 - p)`` on a
tensor like x), so on the CPU the same seed gives the same mask as before this module existed.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

#: Device types on which backward replays the dropout draw instead of keeping a bool mask [T, d_in].
#: Measured: on a GPU a Bernoulli draw costs microseconds and the mask would cost T d_in bytes per
#: adapted layer (28 MiB for an up_proj at 8192 tokens); on a CPU the draw is ~16 ns per element, as
#: long as the layer's own products at the tiny shapes, and memory is rarely what limits a CPU run.
REPLAY_DROPOUT = {"cuda"}


def rng_state(device: torch.device) -> torch.Tensor:
    """The generator state the next random draw on ``device`` starts from."""
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def dropout_scale(x2: torch.Tensor, p: float) -> torch.Tensor:
    """The dropout multiplier for x2 [T, d_in]: 0 or 1 / (1 - p), drawn as CPU ``F.dropout`` draws it."""
    return torch.empty_like(x2).bernoulli_(1 - p).div_(1 - p)  # [T, d_in]


def replay_dropout_scale(x2: torch.Tensor, p: float, state: torch.Tensor) -> torch.Tensor:
    """The multiplier :func:`dropout_scale` drew from ``state``, drawn again; the RNG is left untouched."""
    devices = [x2.device] if x2.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        if x2.device.type == "cuda":
            torch.cuda.set_rng_state(state, x2.device)
        else:
            torch.set_rng_state(state)
        return dropout_scale(x2, p)


class DownAndRoute(torch.autograd.Function):
    """(x [..., d_in], A [r, d_in], R [N, d_in], p) -> h [..., r + N] = [A dropout_p(x); R x]."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, a: torch.Tensor, route: torch.Tensor, p: float) -> torch.Tensor:
        dt = compute_dtype(x)
        ctx.p, ctx.state, ctx.shape, ctx.dt = p, None, x.shape, dt
        keep = None
        with autocast_off(x.device.type):  # the casts below are the only ones
            x2 = x.reshape(-1, x.shape[-1]).to(dt)  # [T, d_in], a view for contiguous inputs
            if p > 0:
                if x.device.type in REPLAY_DROPOUT:
                    ctx.state = rng_state(x.device)
                scale = dropout_scale(x2, p)  # [T, d_in]
                if ctx.state is None:
                    keep = scale != 0  # [T, d_in] bool, kept for backward
                h = torch.cat([F.linear(x2 * scale, a.to(dt)), F.linear(x2, route.to(dt))], dim=-1)  # [T, r + N]
            else:
                h = F.linear(x2, torch.cat([a, route]).to(dt))  # [T, r + N], one GEMM
        if keep is None:
            ctx.save_for_backward(x, a, route)  # x itself: the very object the caller holds
        else:
            ctx.save_for_backward(x, a, route, keep)
        return h.view(*x.shape[:-1], h.shape[-1])

    @staticmethod
    def backward(ctx, dh: torch.Tensor):
        x, a, route, *keep = ctx.saved_tensors
        dt = ctx.dt
        x2 = x.reshape(-1, x.shape[-1]).to(dt)  # [T, d_in]
        dh2 = dh.reshape(-1, dh.shape[-1]).to(dt)  # [T, r + N]
        r = a.shape[0]
        need_x, need_a, need_r = ctx.needs_input_grad[:3]
        dx = da = dr = None
        if ctx.p > 0:
            # [T, d_in]: the kept mask, or the draw replayed
            scale = keep[0].to(dt).div_(1 - ctx.p) if keep else replay_dropout_scale(x2, ctx.p, ctx.state)
            dz, dlogits = dh2[:, :r], dh2[:, r:]
            if need_x:
                dx = F.linear(dz, a.to(dt).t()).mul_(scale).add_(F.linear(dlogits, route.to(dt).t()))
            if need_a:
                da = (dz.t() @ (x2 * scale)).to(a.dtype)  # [r, d_in]
            if need_r:
                dr = (dlogits.t() @ x2).to(route.dtype)  # [N, d_in]
        else:
            if need_x:
                dx = dh2 @ torch.cat([a, route]).to(dt)  # [T, d_in], one GEMM
            if need_a or need_r:
                dw = dh2.t() @ x2  # [r + N, d_in], one GEMM
                da, dr = dw[:r].to(a.dtype), dw[r:].to(route.dtype)
        if dx is not None:
            dx = dx.to(x.dtype).view(ctx.shape)
        return dx, da, dr, None


def autocast_off(device_type: str):
    """Autocast switched off inside our Functions (their casts are explicit); nothing to do when it is
    off already, which skips the context manager's cost on every call."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the products run in: autocast's when it is on for x's device, else x's own."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


class MixHeads(torch.autograd.Function):
    """(y [..., d_out], z [..., r], g [..., N], B [d_out, N r], s) -> y + s B (g (x) z), written into y."""

    @staticmethod
    def forward(ctx, y: torch.Tensor, z: torch.Tensor, g: torch.Tensor, b: torch.Tensor, scale: float):
        dt = y.dtype  # the base product's: autocast's when it is on
        with autocast_off(y.device.type):
            z2 = z.reshape(-1, z.shape[-1]).to(dt)  # [T, r]
            g2 = g.reshape(-1, g.shape[-1])  # [T, N]
            gz = mix(z2, g2, scale)  # [T, N r]
            y.view(-1, y.shape[-1]).addmm_(gz, b.to(dt).t())  # [T, d_out] += [T, N r] @ [N r, d_out]
        ctx.mark_dirty(y)
        ctx.scale = scale
        ctx.save_for_backward(z, g, b)  # z: a view of DownAndRoute's h; g: the softmax's own output
        return y

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        z, g, b = ctx.saved_tensors
        dt, s = dy.dtype, ctx.scale
        z2 = z.reshape(-1, z.shape[-1]).to(dt)  # [T, r]
        g2 = g.reshape(-1, g.shape[-1])  # [T, N]
        dy2 = dy.reshape(-1, dy.shape[-1])  # [T, d_out]
        n, r = g2.shape[-1], z2.shape[-1]
        dz = dg = db = None
        if ctx.needs_input_grad[3]:
            db = (dy2.t() @ mix(z2, g2, s)).to(b.dtype)  # [d_out, N r], the mixture recomputed
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            dgz = (dy2 @ b.to(dt)).view(-1, n, r)  # [T, N, r]
            if ctx.needs_input_grad[1]:
                dz = (g2.to(dt).unsqueeze(1) @ dgz).squeeze(1).mul_(s).to(z.dtype).view(z.shape)  # [T, r]
            if ctx.needs_input_grad[2]:
                dg = (dgz @ z2.unsqueeze(-1)).squeeze(-1).to(g.dtype).mul_(s).view(g.shape)  # [T, N]
        return dy, dz, dg, db, None


def mix(z2: torch.Tensor, g2: torch.Tensor, scale: float) -> torch.Tensor:
    """s (g (x) z): z2 [T, r], g2 [T, N] -> [T, N r] in z2's dtype (head i is columns i r … (i+1) r - 1)."""
    gs = (g2 * scale).to(z2.dtype)  # [T, N]; the scale folded into the smallest tensor
    return (gs.unsqueeze(-1) * z2.unsqueeze(-2)).flatten(-2)
