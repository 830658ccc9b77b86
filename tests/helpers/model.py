"""Shared helpers for the model/adapter tests: the tiny tokenizer and model config, synthetic batches in the
processor's layout, random adapter weights. Imported by the test_model*/test_ilora*/test_adapters*/test_convert*
files as ``helpers.model``.
"""

from __future__ import annotations

import torch

from crabplus.adapters import ILoRAConfig
from crabplus.data.collate import collate
from crabplus.data.tokenizer import build_tiny_tokenizer
from crabplus.model.config import ModelConfig
from crabplus.schema.tokens import special_token_ids
from helpers.dummy import dummy_sample

tiny_tokenizer = build_tiny_tokenizer


def tiny_model_config(**overrides) -> ModelConfig:
    overrides.setdefault("ilora", ILoRAConfig(rank=8, alpha=16.0, num_experts=3))
    return ModelConfig(**overrides)


def tiny_thinker(tokenizer, seed: int = 0, family: str = "unified"):
    """The tiny model of :func:`tiny_model_config` of ``family`` (the unified thinker or ``modular-tiny``), built
    from ``seed``, in eval mode."""
    from crabplus.model import build_backbone

    torch.manual_seed(seed)
    return build_backbone(tiny_model_config(family=family), tokenizer).eval()


def words(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False).input_ids


def samples_of(model, tokenizer, specs: list[tuple], seed: int = 0) -> list[dict]:
    """Synthetic samples, one per (prompt, answer or None, video frames, mel frames)."""
    gen = torch.Generator().manual_seed(seed)
    ids = special_token_ids(tokenizer)
    config = (model.get_base_model() if hasattr(model, "get_base_model") else model).config
    return [
        dummy_sample(
            config,
            words(tokenizer, p),
            None if a is None else words(tokenizer, a),
            im_start=ids["im_start"],
            frames=f,
            mel_frames=m,
            generator=gen,
            token_ids=ids,
        )
        for p, a, f, m in specs
    ]


def batch_of(model, tokenizer, specs: list[tuple], seed: int = 0, padding_side: str = "right") -> dict:
    """A collated batch of :func:`samples_of` (the data pipeline's collator)."""
    pad = special_token_ids(tokenizer)["pad"]
    return collate(samples_of(model, tokenizer, specs, seed), pad, padding_side=padding_side)


def randomize_adapters(model, scale: float = 0.5, seed: int = 1) -> None:
    """Give every adapter tensor (B is zero at init) random values, so adapted != base."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
