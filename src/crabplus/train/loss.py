"""The causal-LM loss on the answer span, per sample, so that it can be logged per task.

The processor's ``labels`` already hold -100 everywhere except the supervised span (the ``\\n``
after ``<|im_start|>assistant``, the target and ``<|im_end|>``, the release (docs/media.md)). The loss is the
stock shift-by-one cross-entropy; we compute it here instead of inside the model because we need
it per sample (per-task logging) and normalised by the supervised-token count of the whole
optimizer step — across micro-batches and ranks — so that gradient accumulation and the number of
processes do not change the objective (transformers does the same with ``num_items_in_batch``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from crabplus.utils.modules import only_module

IGNORE_INDEX = -100


def token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample sums of token cross-entropy and of supervised tokens.

    logits: (B, T, V) scores for the token after each position; labels: (B, T) with -100 outside
    the answer span. Returns ``(loss_sum, count)``, both (B,), float32 and int64.
    """
    if logits.shape[:2] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} disagree on (B, T)")
    shift_logits = logits[:, :-1, :].float()  # (B, T-1, V): position t predicts token t+1
    shift_labels = labels[:, 1:]  # (B, T-1)
    per_token = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),
        shift_labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="none",
    ).view(shift_labels.shape)  # (B, T-1), 0 where ignored
    count = (shift_labels != IGNORE_INDEX).sum(dim=1)  # (B,)
    return per_token.sum(dim=1), count


def supervised_tokens(labels: torch.Tensor) -> int:
    """How many tokens of ``labels`` (B, T) the loss counts (after the shift by one)."""
    return int((labels[:, 1:] != IGNORE_INDEX).sum())


def predicting_positions(labels: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: the positions whose *next* token is supervised, i.e. where the loss reads logits."""
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return keep


def output_head(model: nn.Module) -> nn.Module:
    """The LM head (``lm_head``) inside the model or any wrapper of it (DDP, FSDP, PEFT)."""
    return only_module(model, "lm_head")


@contextlib.contextmanager
def logits_only_at(model: nn.Module, keep: torch.Tensor) -> Iterator[None]:
    """Within the block the model's forward returns logits of shape (N, V) for the N positions of ``keep``
    (B, T) only, in row-major order, instead of (B, T, V).

    Why: only the answer span is supervised (~10 % of a sample's tokens), yet the head's matmul, its
    backward and the float32 cross-entropy scale with every position and the vocabulary. On the tiny
    model that is a fifth of a step; on the 7B (vocabulary 152k) the full float32 logits of one
    2,000-token sample take 1.2 GB. A forward pre-hook on the head selects the hidden states, so the
    call still goes through whatever wraps the model (DDP's gradient hooks, FSDP's gathers).
    """

    def select(_module: nn.Module, args: tuple) -> tuple:
        hidden = args[0]  # (B, T, H)
        if hidden.shape[:2] != keep.shape:
            raise ValueError(f"hidden states {tuple(hidden.shape)} and positions {tuple(keep.shape)} disagree")
        return (hidden[keep],) + args[1:]  # (N, H)

    handle = output_head(model).register_forward_pre_hook(select)
    try:
        yield
    finally:
        handle.remove()


def selected_token_losses(
    logits: torch.Tensor, labels: torch.Tensor, keep: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`token_losses` from the logits of the ``keep`` positions only (see :func:`logits_only_at`).

    logits: (N, V) for the N positions of ``keep`` (B, T), row-major; labels: (B, T).
    Returns per-sample ``(loss_sum, count)``, (B,) float32 and int64 — the same numbers as
    :func:`token_losses` on the full logits.
    """
    targets = labels[:, 1:][keep[:, :-1]]  # (N,): the token after each kept position
    if logits.ndim != 2 or logits.shape[0] != targets.numel():
        raise ValueError(f"logits {tuple(logits.shape)}: expected ({targets.numel()}, V), one row per kept position")
    per_token = F.cross_entropy(logits.float(), targets, reduction="none")  # (N,)
    rows = keep.nonzero()[:, 0]  # (N,): the sample of each kept position
    loss_sum = torch.zeros(labels.shape[0], dtype=torch.float32, device=logits.device).index_add(0, rows, per_token)
    return loss_sum, keep.sum(dim=1)
