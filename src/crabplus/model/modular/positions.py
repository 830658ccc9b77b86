"""Grid positions for a modular model's vision tokens (``vision_positions: grid``): the unified thinker's M-RoPE
layout given to a plain causal LM.

A causal LM numbers its tokens 1, 2, 3, ...: a vision token's place in the frame is then nowhere in its position,
and the offset from the answer to it changes with the prompt, so the place has to be read from the token's content
(docs/results.md: a frozen LLM did not learn to, from the projector alone or from a learned embedding per slot).
The unified thinker instead gives each vision token three positions — time, height, width — and splits the
rotary embedding's frequency pairs between them (``mrope_section``: the first pairs turn with time, the next with
height, the last with width). Text and audio tokens get one position repeated on the three axes, which is the plain
rotary embedding of that position: on text the two compute the same (the modular LLM of the tiny base is the
unified thinker's own LLM, crabplus.model.modular.parts).

Here the same is done for any LLM whose decoder has a rotary embedding of transformers' usual form (``inv_freq``,
``attention_scaling``; Qwen2, LLaMA): :func:`install_sectioned_rotary` replaces it with :class:`SectionedRotary`,
which takes [3, B, L] positions (and [B, L] ones as before), and :func:`grid_position_ids` numbers a batch as the
thinker's ``get_rope_index`` does: text and audio one after another; a frame's k x k tokens at time
``start + (frame // frames_per_time) * time_step``, height ``start + row``, width ``start + column``; the next token
after a vision block at the block's largest position plus one. Padding (left) is skipped when numbering.
"""

from __future__ import annotations

import torch
from torch import nn


class SectionedRotary(nn.Module):
    """A decoder's rotary embedding whose frequency pairs are split between time, height and width positions.

    ``forward(x, position_ids)``: [3, B, L] (or [B, L], the same position on every axis) -> (cos, sin), each
    [B, L, head_dim] in ``x``'s dtype, as transformers' rotary embeddings return them."""

    def __init__(self, rotary: nn.Module, section: list[int]):
        super().__init__()
        inv_freq = rotary.inv_freq.detach().float()  # [head_dim / 2]
        if sum(section) != inv_freq.numel():
            raise ValueError(f"mrope_section {section} must sum to the rotary's {inv_freq.numel()} frequency pairs")
        self.register_buffer("inv_freq", inv_freq.clone(), persistent=False)  # moves with the module
        axis = torch.repeat_interleave(torch.arange(3), torch.tensor(section))  # [head_dim / 2]: 0 t, 1 h, 2 w
        self.register_buffer("axis", axis, persistent=False)
        self.attention_scaling = float(getattr(rotary, "attention_scaling", 1.0))

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if position_ids.dim() == 2:
            position_ids = position_ids.unsqueeze(0).expand(3, -1, -1)  # [3, B, L]
        freqs = position_ids[..., None].float() * self.inv_freq.float()  # [3, B, L, half]: float even after .to(bf16)
        pick = self.axis.view(1, 1, 1, -1).expand(1, *freqs.shape[1:])  # [1, B, L, half]
        freqs = freqs.gather(0, pick).squeeze(0)  # [B, L, half]: each pair turned by its own axis
        emb = torch.cat((freqs, freqs), dim=-1)  # [B, L, head_dim]
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)


def install_sectioned_rotary(language_model: nn.Module, section: list[int]) -> None:
    """Replace ``language_model``'s decoder rotary embedding by a :class:`SectionedRotary` (idempotent)."""
    decoder = language_model.get_decoder()
    rotary = getattr(decoder, "rotary_emb", None)
    if isinstance(rotary, SectionedRotary):
        return
    if rotary is None or not hasattr(rotary, "inv_freq"):
        raise ValueError(
            f"vision_positions 'grid' needs an LLM whose decoder has a rotary embedding with inv_freq "
            f"(Qwen2, LLaMA); {type(language_model).__name__} has none"
        )
    decoder.rotary_emb = SectionedRotary(rotary, list(section))


def grid_position_ids(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    media: dict[int, list[int]],
    grid: int,
    frames_per_time: int,
    time_step: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, L] ids (left-padded; ``attention_mask`` 1 = real) -> ([3, B, L] positions, [B] each row's next
    position). ``media``: for each vision placeholder id, the frame count of each of its items in batch order (a
    run of that placeholder is one item's ``frames * grid * grid`` tokens, frame by frame, row-major)."""
    per_frame = grid * grid
    queues = {token: list(frames) for token, frames in media.items()}
    ids, mask = input_ids.tolist(), attention_mask.tolist()
    b_count, length = input_ids.shape
    pos = [[[1] * length for _ in range(b_count)] for _ in range(3)]  # padding: any position, it is masked
    nxt = [0] * b_count
    for b in range(b_count):
        row, start, i = ids[b], 0, 0
        while i < length:
            if not mask[b][i]:
                i += 1
                continue
            token = row[i]
            if token not in queues:
                for axis in range(3):
                    pos[axis][b][i] = start
                start, i = start + 1, i + 1
                continue
            end = i
            while end < length and row[end] == token and mask[b][end]:
                end += 1
            if not queues[token]:
                raise ValueError(f"grid positions: row {b} holds more runs of placeholder {token} than media items")
            frames = queues[token].pop(0)
            if end - i != frames * per_frame:
                raise ValueError(
                    f"grid positions: row {b} holds {end - i} placeholder tokens {token} in a run, but its item has "
                    f"{frames} frames x {per_frame} tokens"
                )
            for m in range(end - i):
                frame, slot = divmod(m, per_frame)
                r, c = divmod(slot, grid)
                pos[0][b][i + m] = start + (frame // frames_per_time) * time_step
                pos[1][b][i + m] = start + r
                pos[2][b][i + m] = start + c
            start += max(((frames - 1) // frames_per_time) * time_step, grid - 1) + 1
            i = end
        nxt[b] = start
    left = [token for token, q in queues.items() if q]
    if left:
        raise ValueError(f"grid positions: media items of placeholder(s) {left} have no run in the prompt")
    device = input_ids.device
    return torch.tensor(pos, dtype=torch.long, device=device), torch.tensor(nxt, dtype=torch.long, device=device)
