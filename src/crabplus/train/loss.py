"""The causal-LM loss on the answer span, per sample, so that it can be logged per task.

The processor's ``labels`` already hold -100 everywhere except the supervised span (the ``\\n``
after ``<|im_start|>assistant``, the target and ``<|im_end|>``, reference A4). The loss is the
stock shift-by-one cross-entropy; we compute it here instead of inside the model because we need
it per sample (per-task logging) and normalised by the supervised-token count of the whole
optimizer step — across micro-batches and ranks — so that gradient accumulation and the number of
processes do not change the objective (transformers does the same with ``num_items_in_batch``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
        shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="none",
    ).view(shift_labels.shape)  # (B, T-1), 0 where ignored
    count = (shift_labels != IGNORE_INDEX).sum(dim=1)  # (B,)
    return per_token.sum(dim=1), count


def supervised_tokens(labels: torch.Tensor) -> int:
    """How many tokens of ``labels`` (B, T) the loss counts (after the shift by one)."""
    return int((labels[:, 1:] != IGNORE_INDEX).sum())
