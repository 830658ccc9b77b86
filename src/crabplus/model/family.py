"""One front door over the two model families (``model.family``): the unified Qwen2.5-Omni thinker
(:mod:`crabplus.model.build`) and the modular model (:mod:`crabplus.model.modular`). Training, prediction and
checkpoint loading build through :func:`build_backbone`; adapters, generation and saving take either alike."""

from __future__ import annotations

import torch
from torch import nn

from crabplus.model.build import _default_device, build_thinker
from crabplus.model.config import ModelConfig


def register_family(model_cfg: ModelConfig) -> None:
    """Make transformers' AutoConfig know the family's ``model_type`` before anything reads a folder of it: the
    modular family's ``crabplus_modular`` is registered when its config module is imported, and AutoTokenizer,
    which reads ``config.json`` first, otherwise falls back to a bare config and warns "a model of type
    `crabplus_modular` to instantiate a model of type ``" on every load. The unified family's type is transformers'
    own."""
    if model_cfg.family == "modular":
        import crabplus.model.modular.hf_config  # noqa: F401 - registers crabplus_modular with AutoConfig


def build_backbone(model_cfg: ModelConfig, tokenizer, device: str | torch.device | None = None) -> nn.Module:
    """The model of ``model_cfg`` (either family), random or loaded as its config says, on ``device``."""
    if model_cfg.family == "modular":
        from crabplus.model.modular.build import build_modular

        return build_modular(model_cfg, tokenizer, str(device) if device is not None else _default_device(model_cfg))
    return build_thinker(model_cfg, tokenizer, device=device)
