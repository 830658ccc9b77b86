"""Recording I-LoRA router weights per adapted layer and token, for the routing statistics and plots.

    with RoutingRecorder(model) as rec:
        model(**batch)                      # or generate(...): every forward is recorded
    per_sample = rec.summary(batch["attention_mask"])   # [{layer: [w_1 .. w_N]}, ...] one dict per sample

Forward hooks on the routers (no change to the layers' code). Batch-major layers (the LLM, input
[B, T, d]) are recorded per sample and token; the encoders' inputs (the thinker's packed [tokens, d], the
modular model's per-frame [frames, patches, d]: not per sample, ``ILoRARouter.per_sample`` False) cannot be
split per sample here and are kept only in :attr:`RoutingRecorder.packed`.
During generation each step appends its tokens, so the recorded length is prompt + generated tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from crabplus.adapters.apply import ilora_layers


class RoutingRecorder:
    """Context manager recording router weights g [B, T, N] of every adapted layer while active.

    ``first_call_only``: each layer records its first call alone (the prompt of a generation, where the
    routing summary is taken: the decoding steps' weights would be copied out at every step for nothing)."""

    def __init__(self, model: nn.Module, first_call_only: bool = False) -> None:
        self.first_call_only = first_call_only
        self.layers = dict(ilora_layers(model))
        if not self.layers:
            raise ValueError("RoutingRecorder: the model has no I-LoRA layers")
        self.batched: dict[str, list[torch.Tensor]] = {}
        self.packed: dict[str, list[torch.Tensor]] = {}
        self._handles: list = []

    def __enter__(self) -> RoutingRecorder:
        for name, layer in self.layers.items():
            self._handles.append(layer.lora_route.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name: str):
        def record(module, inputs, g: torch.Tensor) -> None:
            target = self.batched if g.dim() == 3 and module.per_sample else self.packed
            if self.first_call_only and name in target:
                return
            target.setdefault(name, []).append(g.detach().float().cpu())

        return record

    def clear(self) -> None:
        self.batched.clear()
        self.packed.clear()

    def weights(self, name: str) -> torch.Tensor:
        """Recorded weights of one batch-major layer, [B, T, N] (steps of a generation joined on T)."""
        return torch.cat(self.batched[name], dim=1)

    def summary(self, attention_mask: torch.Tensor | None = None) -> list[dict[str, list[float]]]:
        """Per sample, per batch-major layer: the mean router weight of each head over the sample's
        valid tokens (``attention_mask`` [B, T] with T the recorded length; None = every token)."""
        if not self.batched:
            return []
        per_layer = {}
        for name in self.batched:
            g = self.weights(name)  # [B, T, N]
            if attention_mask is None:
                mask = torch.ones(g.shape[:2], dtype=torch.bool)
            else:
                mask = attention_mask.detach().cpu() != 0
                if mask.shape != g.shape[:2]:
                    raise ValueError(
                        f"RoutingRecorder.summary: attention_mask is {tuple(mask.shape)} but layer {name} "
                        f"recorded {tuple(g.shape[:2])} (batch, tokens)"
                    )
            # Row by row over the row's own tokens, not a masked sum over the padded length: summed with the
            # padding's zeros, a left-padded row's tokens sit at other offsets of the reduction, which rounds
            # differently, so the same sample would get other last bits in another batch.
            per_layer[name] = [g[i, mask[i]].sum(0) / max(int(mask[i].sum()), 1) for i in range(g.shape[0])]  # B x [N]
        batch = len(next(iter(per_layer.values())))
        return [{name: means[i].tolist() for name, means in per_layer.items()} for i in range(batch)]
