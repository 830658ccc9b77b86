"""Stopping a generated answer that has run away into repetition.

Why: an undertrained model (the tiny one early in training, or any model on an input far from its data)
can fall into a loop, ``a,,,,,,,,`` or the same few words again and again, and then decodes to
``max_new_tokens`` — seconds per answer on a CPU, for nothing the parser can read. A row stops once its
last ``span`` new tokens repeat with a period of at most ``max_period`` tokens (one token 48 times, or an
8-token phrase 6 times in a row). No answer of the task formats does that: the longest AVSynth target holds
no run of more than a few repeated tokens, and a list of events differs at least in its numbers.
"""

from __future__ import annotations

import torch
from transformers import StoppingCriteria

SPAN = 48
MAX_PERIOD = 8


def repeats_at_end(ids: torch.Tensor, span: int = SPAN, max_period: int = MAX_PERIOD) -> torch.Tensor:
    """bool [B]: whether each row of ``ids`` [B, T] ends in ``span`` tokens that repeat with a period of at
    most ``max_period`` (token i equals token i - p over the whole span, for some p)."""
    if ids.shape[1] < span + 1:
        return torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    tail = ids[:, -span:]  # [B, span]
    found = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for period in range(1, min(max_period, ids.shape[1] - span) + 1):
        shifted = ids[:, -span - period : -period]  # [B, span]
        found |= (tail == shifted).all(dim=1)
    return found


class RunawayRepetition(StoppingCriteria):
    """transformers' stopping criterion for :func:`repeats_at_end`, over the new tokens only."""

    def __init__(self, prompt_length: int, span: int = SPAN, max_period: int = MAX_PERIOD):
        self.prompt_length, self.span, self.max_period = prompt_length, span, max_period

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.BoolTensor:
        return repeats_at_end(input_ids[:, self.prompt_length :], self.span, self.max_period)
