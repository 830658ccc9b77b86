"""Batching encoded samples (as the release batches, docs/media.md), with left padding for generation.

Text is padded to the longest sample: ``input_ids`` with the pad id, ``attention_mask`` with 0, ``labels``
with -100, on the right for training and on the left for generation (the release right-pads in generation
too, which puts pad tokens between a short prompt and its answer; we do not). Media tensors are
concatenated along dim 0 in sample order, which is the order the thinker scatters them into its
placeholders. Audio features differ in length here (they are not padded to 30 s), so they are first
right-padded to the batch's longest with zeros and mask 0. ``id``/``dataset`` stay lists.
"""

from __future__ import annotations

from typing import Literal

import torch

from crabplus.data.processor import IGNORE_INDEX

_CONCAT = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw", "video_second_per_grid")
_LISTS = ("id", "dataset")


def _pad_1d(seqs: list[torch.Tensor], value: int, side: str) -> torch.Tensor:
    """[L_i] each -> [B, max L]."""
    longest = max(s.numel() for s in seqs)
    out = torch.full((len(seqs), longest), value, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        if side == "left":
            out[i, longest - s.numel() :] = s
        else:
            out[i, : s.numel()] = s
    return out


def pad_audio(features: list[torch.Tensor], masks: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel features [n_i, n_mels, F_i] and their masks [n_i, F_i] -> [sum n_i, n_mels, max F] and
    [sum n_i, max F], right-padded with zeros: padded frames are masked out (feature_attention_mask 0)."""
    longest = max(f.shape[-1] for f in features)
    padded = torch.cat([torch.nn.functional.pad(f, (0, longest - f.shape[-1])) for f in features], dim=0)
    mask = torch.cat([torch.nn.functional.pad(m, (0, longest - m.shape[-1])) for m in masks], dim=0)
    return padded, mask


def collate(samples: list[dict], pad_id: int, padding_side: Literal["left", "right"] = "right") -> dict:
    """A batch from samples of :meth:`CrabProcessor.encode`; see the module notes."""
    if not samples:
        raise ValueError("collate needs at least one sample")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    batch: dict = {
        "input_ids": _pad_1d([s["input_ids"] for s in samples], pad_id, padding_side),
        "attention_mask": _pad_1d([s["attention_mask"] for s in samples], 0, padding_side),
    }
    with_labels = ["labels" in s for s in samples]
    if any(with_labels):
        if not all(with_labels):
            raise ValueError("some samples have labels and some do not; encode them all with or without target")
        batch["labels"] = _pad_1d([s["labels"] for s in samples], IGNORE_INDEX, padding_side)
    for key in _CONCAT:
        parts = [s[key] for s in samples if key in s]
        if parts:
            batch[key] = torch.cat(parts, dim=0)
    with_audio = [s for s in samples if "input_features" in s]
    if with_audio:
        batch["input_features"], batch["feature_attention_mask"] = pad_audio(
            [s["input_features"] for s in with_audio], [s["feature_attention_mask"] for s in with_audio]
        )
    for key in _LISTS:
        batch[key] = [s.get(key) for s in samples]
    skipped = [entry for s in samples for entry in s.get("skipped", [])]
    if skipped:
        batch["skipped"] = skipped
    return batch
