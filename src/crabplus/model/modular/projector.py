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
width the LLM's rotary positions then give (crabplus.model.modular.positions). ``merge`` says how a block's patches
become one token: ``mean`` averages them; ``concat`` lays them side by side (row-major within the block) before the
Linear, as the unified thinker's merger does with its 2 x 2 (release) or 4 x 4 (tiny) patches. A mean throws the
block's layout away, and a shape is a layout: the modular base's vision tokens held shape at 0.32 where the unified
thinker's held 0.87 (docs/results.md).
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


def grid_concat(x: torch.Tensor, n: int) -> torch.Tensor:
    """[G, P, d] patch tokens of square frames (P = s * s, row-major) -> [G, n, (P / n) * d]: each of a k x k grid of
    blocks (n = k * k, row-major) as its b x b patches side by side, row-major within the block (b = s / k)."""
    g, p, d = x.shape
    side, k = math.isqrt(p), math.isqrt(n)
    if side * side != p or k * k != n or side % k:
        raise ValueError(f"grid concatenation needs a square grid of whole blocks: {p} patches a frame into {n} tokens")
    b = side // k
    blocks = x.reshape(g, k, b, k, b, d).permute(0, 1, 3, 2, 4, 5)  # [G, k_row, k_col, b_row, b_col, d]
    return blocks.reshape(g, n, b * b * d)  # [G, n, b * b * d]


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
        merge: str = "mean",
        patches_per_token: int = 1,
    ):
        super().__init__()
        if grid and kind != "mlp":
            raise ValueError("grid pooling needs the 'mlp' projector: a Q-Former's queries are not regions")
        if merge not in ("mean", "concat"):
            raise ValueError(f"merge must be 'mean' or 'concat', got {merge!r}")
        if merge == "concat" and not grid:
            raise ValueError("merge 'concat' needs grid pooling: its tokens are blocks of the frame")
        self.kind, self.queries, self.grid, self.merge = kind, queries, grid, merge
        self.patches_per_token = patches_per_token
        if kind == "qformer":
            config = copy.deepcopy(qformer_config)
            config.encoder_hidden_size = encoder_hidden
            self.qformer = Blip2QFormerModel(config)
            self.query_tokens = nn.Parameter(torch.randn(1, queries, config.hidden_size) * config.initializer_range)
            width = config.hidden_size
        else:
            width = encoder_hidden * (patches_per_token if merge == "concat" else 1)
        self.linear_1 = nn.Linear(width, llm_hidden)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(llm_hidden, llm_hidden)
        if places:
            if kind != "mlp":
                raise ValueError("places needs the 'mlp' projector: a Q-Former's query slots are not regions")
            self.places = nn.Parameter(torch.randn(1, queries, llm_hidden) * 0.02)  # [1, q, d_llm]
        else:
            self.places = None

    def blocks(self, tokens: torch.Tensor) -> torch.Tensor:
        """``grid``: [G, P, d_enc] patch tokens -> the frame's k x k blocks, each merged by ``merge``."""
        if self.merge == "concat":
            if tokens.shape[1] != self.patches_per_token * self.queries:
                raise ValueError(
                    f"merge 'concat': {tokens.shape[1]} patches a frame, but the projector was built for "
                    f"{self.patches_per_token * self.queries} (frames of the vision tower's own image_size)"
                )
            return grid_concat(tokens, self.queries)  # [G, q, b * b * d_enc]
        return grid_pool(tokens, self.queries)  # [G, q, d_enc]

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)  # [G, P]
        if self.kind == "qformer":
            queries = self.query_tokens.expand(tokens.shape[0], -1, -1)  # [G, q, d_q]
            out = self.qformer(
                query_embeds=queries, encoder_hidden_states=tokens, encoder_attention_mask=mask
            ).last_hidden_state  # [G, q, d_q]
        elif self.grid:
            out = self.blocks(tokens)  # [G, q, d_enc] (mean) or [G, q, b * b * d_enc] (concat)
        else:
            out = masked_pool(tokens, mask, self.queries)  # [G, q, d_enc]
        out = out.to(self.linear_1.weight.dtype)
        out = self.linear_2(self.act(self.linear_1(out)))  # [G, q, d_llm]
        return out if self.places is None else out + self.places.to(out.dtype)  # [G, q, d_llm]
