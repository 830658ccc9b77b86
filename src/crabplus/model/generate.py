"""Greedy generation on a left-padded batch, as the release decodes (the release; docs/media.md), minus its bug.

The release right-pads batches for generation, so shorter prompts get pad tokens between the prompt
and the answer. Here batches must be left-padded: transformers 5.24's thinker computes M-RoPE
positions from the attention mask (``get_rope_index`` drops padded tokens before numbering, and the
decoding steps continue from each row's own last position), so a row generates the same tokens in a
batch as alone (tested).

``compiled=True`` (CUDA only) decodes with a static KV cache, which transformers' ``generate`` compiles
with ``torch.compile(mode="reduce-overhead")``: each decoding step replays a CUDA graph instead of
launching its few thousand small kernels one by one (decoding is launch-bound at batch 1-8). The
I-LoRA layers' cast and stacked weights are made before the first compiled step
(:func:`crabplus.adapters.prepare_inference`). Greedy outputs are those of the eager path.

A row that runs away into repetition stops there (:mod:`crabplus.model.repetition`), not at
``max_new_tokens``; ``stop_repetition=False`` decodes to the limit as the release does.

On the CPU a batch decodes batch-invariantly (:mod:`crabplus.model.invariant`: oneDNN and NNPACK off, the LLM's
attention one row at a time over the row's own tokens), so that a float32 row is bit-equal at any batch size
(tests/test_predict_scale.py).
"""

from __future__ import annotations

import torch
from torch import nn

from crabplus.adapters import prepare_inference
from crabplus.model.invariant import batch_invariant
from crabplus.model.repetition import RunawayRepetition
from crabplus.schema.tokens import special_token_ids

#: The thinker's forward inputs a batch may carry; anything else (labels, metadata) is left out.
FORWARD_KEYS = (
    "input_ids",
    "attention_mask",
    "pixel_values",
    "image_grid_thw",
    "pixel_values_videos",
    "video_grid_thw",
    "video_second_per_grid",
    "input_features",
    "feature_attention_mask",
)


@torch.no_grad()
def generate_ids(
    model: nn.Module,
    tokenizer,
    batch: dict,
    max_new_tokens: int = 512,
    compiled: bool = False,
    stop_repetition: bool = True,
) -> torch.Tensor:
    """Decode greedily up to ``max_new_tokens`` per row; return the new token ids [B, new] (prompt sliced
    off). Stops at ``<|im_end|>`` or the pad token. ``compiled``: CUDA graphs over a static cache (see the
    module notes); a ValueError off CUDA."""
    inputs = {k: batch[k] for k in FORWARD_KEYS if batch.get(k) is not None}
    if "input_ids" not in inputs or "attention_mask" not in inputs:
        raise ValueError("generate: the batch needs input_ids and attention_mask")
    mask = inputs["attention_mask"]
    right_padded = (mask[:, -1] == 0).nonzero().flatten().tolist()
    if right_padded:
        raise ValueError(
            f"generate: rows {right_padded} are right-padded (attention_mask ends in 0); generation needs left padding"
        )
    device = next(model.parameters()).device
    inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    ids = special_token_ids(tokenizer)
    options = compiled_options(model, device) if compiled else {}
    if stop_repetition:
        from transformers import StoppingCriteriaList

        options["stopping_criteria"] = StoppingCriteriaList([RunawayRepetition(inputs["input_ids"].shape[1])])
    was_training = model.training
    model.eval()
    try:
        with batch_invariant(model, device):
            out = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                use_cache=True,
                eos_token_id=[ids["im_end"], ids["pad"]],
                pad_token_id=ids["pad"],
                **options,
            )  # [B, prompt + new]
    finally:
        model.train(was_training)
    return out[:, inputs["input_ids"].shape[1] :]  # [B, new]


def generate(
    model: nn.Module,
    tokenizer,
    batch: dict,
    max_new_tokens: int = 512,
    compiled: bool = False,
    stop_repetition: bool = True,
) -> list[str]:
    """:func:`generate_ids`, decoded: the new text of each row (special tokens skipped, whitespace stripped)."""
    new_tokens = generate_ids(model, tokenizer, batch, max_new_tokens, compiled, stop_repetition)  # [B, new]
    return [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


def compiled_options(model: nn.Module, device: torch.device) -> dict:
    """``generate`` keyword arguments for CUDA-graph decoding: a static cache, which transformers compiles
    with ``mode="reduce-overhead"`` on CUDA; the adapters' inference weights are made first."""
    if device.type != "cuda":
        raise ValueError(f"compiled generation needs a CUDA device (the model is on {device})")
    prepare_inference(model)
    return {"cache_implementation": "static"}
