"""The connectors of the modular model: encoder tokens of one frame / one audio segment -> a fixed number of LLM
tokens.

- ``qformer`` (Crab's): transformers' BLIP-2 ``Blip2QFormerModel`` with learned queries that cross-attend to the
  encoder's tokens in every layer (no text input), then Linear -> GELU -> Linear into the LLM's width.
- ``mlp`` (LLaVA-style): the encoder's tokens average-pooled, in order, to the same number of tokens (padding
  excluded), then the same Linear -> GELU -> Linear. Both give the processor the same token counts.

``places`` (``mlp`` only) adds a learned embedding per output slot. The mlp's slots are fixed regions of the frame
(the pooled patches, in row-major order), so the embedding writes *where* into each token's content. The unified
thinker gives its vision tokens height and width rotary positions; a causal LM's 1-D positions cannot, since the
offset from the answer to a vision token changes with the prompt's length.

``grid`` (``mlp`` only; the model's ``vision_positions: grid``) pools a frame's square patch grid into a square
k x k grid of blocks (row-major) instead of runs in raster order, so each token is one block whose height and
width the LLM's rotary positions then give (crabplus.model.modular.positions).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import Blip2QFormerModel


def masked_pool(x: torch.Tensor, mask: torch.Tensor, n: int) -> torch.Tensor:
    """[G, P, d] tokens with a [G, P] mask (1 = real) -> [G, n, d]: ``n`` adaptive averages over P, in order,
    each over the real tokens of its span (a span of padding only gives zeros)."""
    m = mask.to(x.dtype).unsqueeze(1)  # [G, 1, P]
    total = F.adaptive_avg_pool1d(x.transpose(1, 2) * m, n)  # [G, d, n]
    weight = F.adaptive_avg_pool1d(m, n)  # [G, 1, n]
    return (total / weight.clamp_min(1e-6)).transpose(1, 2)  # [G, n, d]


def grid_pool(x: torch.Tensor, n: int) -> torch.Tensor:
    """[G, P, d] patch tokens of square frames (P = s * s, row-major) -> [G, n, d]: averages over a k x k grid of
    blocks (n = k * k), row-major."""
    g, p, d = x.shape
    side, k = math.isqrt(p), math.isqrt(n)
    if side * side != p or k * k != n:
        raise ValueError(f"grid pooling needs square grids: {p} patches a frame into {n} tokens")
    frames = x.transpose(1, 2).reshape(g, d, side, side)  # [G, d, s, s]
    return F.adaptive_avg_pool2d(frames, k).flatten(2).transpose(1, 2)  # [G, k * k, d]


class Projector(nn.Module):
    """One modality's connector: [G, P, d_enc] encoder tokens (+ [G, P] mask) -> [G, queries, d_llm]."""

    def __init__(
        self,
        kind: str,
        qformer_config,
        encoder_hidden: int,
        llm_hidden: int,
        queries: int,
        places: bool = False,
        grid: bool = False,
    ):
        super().__init__()
        if grid and kind != "mlp":
            raise ValueError("grid pooling needs the 'mlp' projector: a Q-Former's queries are not regions")
        self.kind, self.queries, self.grid = kind, queries, grid
        if kind == "qformer":
            config = copy.deepcopy(qformer_config)
            config.encoder_hidden_size = encoder_hidden
            self.qformer = Blip2QFormerModel(config)
            self.query_tokens = nn.Parameter(torch.randn(1, queries, config.hidden_size) * config.initializer_range)
            width = config.hidden_size
        else:
            width = encoder_hidden
        self.linear_1 = nn.Linear(width, llm_hidden)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(llm_hidden, llm_hidden)
        if places:
            if kind != "mlp":
                raise ValueError("places needs the 'mlp' projector: a Q-Former's query slots are not regions")
            self.places = nn.Parameter(torch.randn(1, queries, llm_hidden) * 0.02)  # [1, q, d_llm]
        else:
            self.places = None

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)  # [G, P]
        if self.kind == "qformer":
            queries = self.query_tokens.expand(tokens.shape[0], -1, -1)  # [G, q, d_q]
            out = self.qformer(
                query_embeds=queries, encoder_hidden_states=tokens, encoder_attention_mask=mask
            ).last_hidden_state  # [G, q, d_q]
        elif self.grid:
            out = grid_pool(tokens, self.queries)  # [G, q, d_enc]: a frame's k x k blocks
        else:
            out = masked_pool(tokens, mask, self.queries)  # [G, q, d_enc]
        out = out.to(self.linear_1.weight.dtype)
        out = self.linear_2(self.act(self.linear_1(out)))  # [G, q, d_llm]
        return out if self.places is None else out + self.places.to(out.dtype)  # [G, q, d_llm]
