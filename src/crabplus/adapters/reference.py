"""The release's per-head I-LoRA formulation (the release; docs/model.md), written from its formula.

Kept as an oracle, not as a training path: the tests check :class:`~crabplus.adapters.layer.ILoRALinear`'s
stacked product against it, and ``benchmarks/ilora.py`` times it as "the release's loop". Each head has its
own contiguous ``lora_B{i}`` matrix, as in the release, so the loop is timed fairly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crabplus.adapters.layer import ILoRALinear


class PerHeadILoRALinear(nn.Module):
    """``y = W x + b + sum_i softmax(R x)_i * B_i(A(dropout(x))) * s`` with a Python loop over the heads.

    Built from an :class:`ILoRALinear` (sharing its base weight, copying A, R and each head of B), so
    both compute the same function and can be compared or timed side by side.
    """

    def __init__(self, layer: ILoRALinear) -> None:
        super().__init__()
        self.weight, self.bias, self.scale = layer.weight, layer.bias, layer.scale
        self.lora_dropout = layer.lora_dropout
        r = layer.rank
        self.lora_A = nn.Parameter(layer.lora_A.weight.detach().clone())  # [r, d_in]
        self.lora_route = nn.Parameter(layer.lora_route.weight.detach().clone())  # [N, d_in]
        stacked = layer.lora_B.weight.detach()  # [d_out, N r]
        self.lora_B = nn.ParameterList(
            nn.Parameter(stacked[:, i * r : (i + 1) * r].clone().contiguous()) for i in range(layer.num_experts)
        )  # N x [d_out, r]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)  # [..., d_out]
        xa = x.to(self.lora_A.dtype)
        g = F.linear(xa.float(), self.lora_route.float()).softmax(-1).to(xa.dtype)  # [..., N]
        z = F.linear(self.lora_dropout(xa), self.lora_A)  # [..., r]
        for i, b in enumerate(self.lora_B):
            y = y + (g[..., i : i + 1] * F.linear(z, b) * self.scale).to(y.dtype)  # [..., d_out]
        return y
