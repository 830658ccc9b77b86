"""The I-LoRA layer: a frozen linear layer plus a shared down-projection, N up-projection heads and a
per-token router (docs/model.md).

    g = softmax(R x)                    R: N x d_in, computed in float32
    z = A dropout(x)                    A: r x d_in, shared by every head
    y = W0 x + b + s * sum_i g_i B_i z  B_i: d_out x r, zero at init; s = alpha / r

Because A is shared, ``sum_i g_i B_i z = [B_1 ... B_N] (g (x) z)``: the heads live side by side in one
``lora_B`` matrix of shape d_out x (N r) and the mixture is ONE matrix product of inner size N r, never a
Python loop over heads (the release loops; ``crabplus.adapters.reference`` keeps that loop as an oracle).

The layer subclasses ``nn.Linear`` and takes over the base layer's own ``weight``/``bias`` Parameters, so
the base model's state-dict keys do not change when it is adapted (a full-weight save of an adapted
model is a plain thinker checkpoint) and code that checks ``isinstance(m, nn.Linear)`` keeps working.
Adapter parameters all have ``.lora_`` in their names: one filter decides what trains and what is saved.

Three ways through the same maths, chosen per call: training goes through the hand-written backward of
:mod:`crabplus.adapters.kernels` (float32 masters, products in the base's dtype, only x, z and g kept);
a call that needs no gradient and no dropout (evaluation, generation) takes :meth:`ILoRALinear.infer`,
a few kernels over weights cast and stacked once; and :meth:`ILoRALinear.adapter_delta` keeps the plain
autograd formula the layer had before (set ``ILoRALinear.lean = False`` to use it: benchmarks compare).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from crabplus.adapters.config import ILoRAConfig
from crabplus.adapters.kernels import DownAndRoute, MixHeads


def adapter_dtype(base_dtype: torch.dtype) -> torch.dtype:
    """Adapters of a half-precision base are kept in float32 masters (as AMP and PEFT do), so that small
    updates to them are not rounded away; the products themselves run in the base's dtype."""
    return torch.float32 if base_dtype in (torch.float16, torch.bfloat16) else base_dtype


class ILoRARouter(nn.Module):
    """Per-token softmax over the N heads, always computed in float32.

    Options (default off): ``top_k`` keeps the k largest logits per token (softmax over those, so the
    weights still sum to 1); ``num_tasks > 0`` adds a learned per-task bias to the logits, zero at init
    so a task-conditioned router starts equal to the plain one (the task ids of the batch are set with
    :func:`crabplus.adapters.set_task_ids`); ``balance_weight > 0`` stores a Switch-style load-balancing
    loss of the last training forward in ``aux_loss`` (collected, weighted, by
    :func:`crabplus.adapters.balance_loss`).

    The module's output (the weights ``g``) is what :class:`~crabplus.adapters.RoutingRecorder` hooks.
    """

    def __init__(
        self,
        in_features: int,
        num_experts: int,
        *,
        top_k: int | None = None,
        num_tasks: int = 0,
        balance_weight: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.num_experts = num_experts
        self.top_k = top_k
        self.balance_weight = balance_weight
        self.weight = nn.Parameter(torch.empty(num_experts, in_features, device=device, dtype=dtype))
        # Same initialisation as nn.Linear's (kaiming-uniform, a=sqrt(5)), as the release's router.
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.task = None
        if num_tasks > 0:
            self.task = nn.Embedding(num_tasks, num_experts, device=device, dtype=dtype)
            nn.init.zeros_(self.task.weight)
        self.task_ids: torch.Tensor | None = None
        self.aux_loss: torch.Tensor | None = None
        # Whether a 3-D input is batch-major per sample ([B, T, d]: the LLM). Apply sets it False inside an
        # encoder, whose inputs are not per sample even when 3-D (the modular model's towers read [frames,
        # patches, d] and [windows, positions, d]); the thinker's encoders read packed 2-D inputs anyway.
        self.per_sample = True

    def forward(self, x: torch.Tensor, logits: torch.Tensor | None = None) -> torch.Tensor:
        """x: [..., d_in] -> g: [..., N] float32. ``logits`` [..., N] = R x when the caller already has
        them (the layer's stacked [A; R] product); the router never sees dropout."""
        logits = F.linear(x.float(), self.weight.float()) if logits is None else logits.float()
        if self.task is not None and self.per_sample and x.dim() == 3:
            # Only batch-major inputs [B, T, d] (the LLM) can be matched to per-sample task ids; the
            # encoders see packed or per-frame inputs and keep the plain router.
            if self.task_ids is None:
                raise RuntimeError("task-conditioned I-LoRA router: call set_task_ids(model, ids) before forward")
            if self.task_ids.shape != (x.shape[0],):
                raise RuntimeError(
                    f"task-conditioned I-LoRA router: {tuple(self.task_ids.shape)} task ids for a batch of {x.shape[0]}"
                )
            logits = logits + self.task(self.task_ids.to(x.device)).float()[:, None, :]  # [B, 1, N]
        if self.top_k is not None and self.top_k < self.num_experts:
            keep = logits.topk(self.top_k, dim=-1).indices  # [..., k]; exactly k even on ties
            logits = torch.full_like(logits, float("-inf")).scatter(-1, keep, logits.gather(-1, keep))
        g = logits.softmax(dim=-1)  # [..., N], >= 0, sums to 1
        self.aux_loss = self._balance_loss(g) if self.balance_weight > 0 and self.training else None
        return g

    def _balance_loss(self, g: torch.Tensor) -> torch.Tensor:
        """N * sum_i f_i * P_i (Switch Transformer): f_i the share of tokens whose chosen heads (top-k, or
        the arg-max when dense) include i, P_i the mean weight of head i. Equals 1 when balanced."""
        flat = g.reshape(-1, self.num_experts)  # [tokens, N]
        k = self.top_k or 1
        with torch.no_grad():
            chosen = F.one_hot(flat.topk(k, dim=-1).indices, self.num_experts).sum(-2).float()  # [tokens, N]
            share = chosen.mean(0) / k  # [N]
        return self.num_experts * (share * flat.mean(0)).sum()


class ILoRALinear(nn.Linear):
    """A frozen ``nn.Linear`` with an I-LoRA adapter (see the module docstring for the formula).

    Parameters: ``weight``/``bias`` (the base's own), ``lora_A.weight`` [r, d_in], ``lora_B.weight``
    [d_out, N r] (head i is columns i r ... (i+1) r - 1), ``lora_route.weight`` [N, d_in] and, when
    task-conditioned, ``lora_route.task.weight`` [num_tasks, N].
    """

    def __init__(self, base: nn.Linear, config: ILoRAConfig) -> None:
        # nn.Module's init, not nn.Linear's: the base's Parameters are reused, nothing is allocated twice.
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight
        self.bias = base.bias
        self.config = config
        self.rank, self.num_experts, self.scale = config.rank, config.num_experts, config.scale
        factory = {"device": base.weight.device, "dtype": adapter_dtype(base.weight.dtype)}
        self.lora_dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.lora_A = nn.Linear(self.in_features, self.rank, bias=False, **factory)  # kaiming-uniform
        self.lora_B = nn.Linear(self.num_experts * self.rank, self.out_features, bias=False, **factory)
        nn.init.zeros_(self.lora_B.weight)  # adapted layer == base layer at init
        self.lora_route = ILoRARouter(
            self.in_features,
            self.num_experts,
            top_k=config.top_k,
            num_tasks=config.num_tasks if config.task_conditioned else 0,
            balance_weight=config.balance_loss_weight,
            **factory,
        )

    #: False: every call takes the plain autograd formula (:meth:`adapter_delta`), the reference the lean path is
    #: checked and benchmarked against.
    lean = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)  # [..., d_out]
        if not self.lean:
            # In place: the base product's backward needs x and W, never y, so no second [..., d_out] buffer.
            return y.add_(self.adapter_delta(x).to(y.dtype))
        p = self.lora_dropout.p if isinstance(self.lora_dropout, nn.Dropout) and self.lora_dropout.training else 0.0
        if p == 0 and not (torch.is_grad_enabled() and (x.requires_grad or self.adapter_trains)):
            return self.infer(x, y)
        h = DownAndRoute.apply(x, self.lora_A.weight, self.lora_route.weight, p)  # [..., r + N]
        g = self.lora_route(x, logits=h[..., self.rank :])  # [..., N] float32
        return MixHeads.apply(y, h[..., : self.rank], g, self.lora_B.weight, self.scale)

    @property
    def adapter_trains(self) -> bool:
        """Whether any adapter weight wants a gradient (then a call with gradients on keeps its graph)."""
        route = self.lora_route
        return (
            self.lora_A.weight.requires_grad
            or self.lora_B.weight.requires_grad
            or route.weight.requires_grad
            or (route.task is not None and route.task.weight.requires_grad)
        )

    def lora_parameters(self) -> list[nn.Parameter]:
        return [self.lora_A.weight, self.lora_B.weight, *self.lora_route.parameters()]

    def infer(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """y + the adapter's product with no autograd and no dropout: the stacked [A; R] GEMM, the float32
        softmax, the outer product and one GEMM that accumulates into y (five or six kernels)."""
        w_ar, b_scaled = self.inference_weights(y.dtype)  # y's dtype: autocast's when it is on
        h = F.linear(x.to(y.dtype), w_ar)  # [..., r + N]
        g = self.lora_route(x, logits=h[..., self.rank :])  # [..., N] float32
        gz = (g.to(h.dtype).unsqueeze(-1) * h[..., : self.rank].unsqueeze(-2)).flatten(-2)  # [..., N r]
        y.view(-1, y.shape[-1]).addmm_(gz.view(-1, gz.shape[-1]), b_scaled.t())  # [T, d_out] += ...
        return y

    def inference_weights(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """([A; R] [r + N, d_in], s B [d_out, N r]) in ``dtype``, made once and kept while the masters
        are unchanged (an optimizer step or a load bumps their version). Inside ``torch.compile`` the kept
        pair is used as is: call :func:`crabplus.adapters.prepare_inference` before compiling."""
        a, b, route = self.lora_A.weight, self.lora_B.weight, self.lora_route.weight
        cache = self.__dict__.get("_inference_cache")
        if cache is not None and torch.compiler.is_compiling():
            return cache[1], cache[2]
        key = (
            dtype,
            a.device,
            a._version,
            b._version,
            route._version,
            a.data_ptr(),
            b.data_ptr(),
            route.data_ptr(),
            self.scale,
        )
        if cache is None or cache[0] != key:
            with torch.no_grad():
                w_ar = torch.cat([a, route]).to(dtype)  # [r + N, d_in]
                b_scaled = (b * self.scale).to(dtype)  # [d_out, N r]
            cache = (key, w_ar, b_scaled)
            self.__dict__["_inference_cache"] = cache
        return cache[1], cache[2]

    def train(self, mode: bool = True) -> ILoRALinear:
        if mode:
            self.__dict__.pop("_inference_cache", None)  # no stale copy while the masters train
        return super().train(mode)

    def adapter_delta(self, x: torch.Tensor) -> torch.Tensor:
        """s * sum_i g_i B_i A dropout(x), as one product over the stacked heads, in plain autograd with
        the adapters' float32 arithmetic: the plain formula, kept as the comparison for tests and benchmarks
        (``ILoRALinear.lean = False`` makes forward use it)."""
        g = self.lora_route(x)  # [..., N] float32
        xa = x.to(self.lora_A.weight.dtype)
        z = F.linear(self.lora_dropout(xa), self.lora_A.weight)  # [..., r]
        gs = (g * self.scale).to(z.dtype)  # [..., N]; the scale folded into the smallest tensor
        gz = (gs.unsqueeze(-1) * z.unsqueeze(-2)).flatten(-2)  # [..., N, r] -> [..., N r]
        return F.linear(gz, self.lora_B.weight)  # [..., d_out]

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
            f"rank={self.rank}, num_experts={self.num_experts}, scale={self.scale}"
        )
