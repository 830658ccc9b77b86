"""A loaded model ready to answer: thinker (+ adapter), tokenizer and the processor that feeds it.

Loaded from a folder written by training (``OUTPUT/final`` or ``OUTPUT/checkpoint-<step>``) or any
folder :func:`crabplus.model.load_checkpoint` reads. The frame size the model was trained with is
read from the folder's ``run_config.yaml`` (written beside every training export), so prediction
feeds the model what it learned on; an explicit ``image_size`` wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from torch import nn

from crabplus.data.config import DataConfig
from crabplus.model.config import ModelConfig

RUN_CONFIG = "run_config.yaml"


def trained_image_size(folder: str | Path) -> int | None:
    """``data.image_size`` of the run that wrote ``folder`` (None when it has no run config)."""
    path = Path(folder) / RUN_CONFIG
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    size = (data.get("data") or {}).get("image_size")
    return int(size) if size is not None else None


@dataclass
class Predictor:
    """What prediction needs; build with :meth:`from_checkpoint` or from live training objects."""

    model: nn.Module
    tokenizer: object
    processor: object
    model_cfg: ModelConfig

    @classmethod
    def from_model(
        cls, model: nn.Module, tokenizer, model_cfg: ModelConfig, *, image_size: int, cache_dir: str | None = None
    ) -> Predictor:
        from crabplus.adapters import is_peft
        from crabplus.data.processor import CrabProcessor

        thinker = model.get_base_model() if is_peft(model) else model  # PEFT wraps the thinker
        processor = CrabProcessor(tokenizer, thinker.config, image_size=image_size, cache_dir=cache_dir)
        model.eval()
        return cls(model, tokenizer, processor, model_cfg)

    @classmethod
    def from_checkpoint(
        cls,
        folder: str | Path,
        *,
        image_size: int | None = None,
        cache_dir: str | None = None,
        device=None,
        base: str | Path | None = None,
    ) -> Predictor:
        """``base`` overrides where an adapter-only checkpoint's base model lies (``--base``)."""
        import logging
        import time

        from crabplus.model.checkpoint import load_checkpoint

        log = logging.getLogger(__name__)
        start = time.monotonic()  # a real model takes a while to load: say so before, and how long after
        log.info("loading the model from %s ...", folder)
        model, tokenizer, model_cfg = load_checkpoint(folder, device=device, base=base)
        log.info("model loaded in %.1f s", time.monotonic() - start)
        size = image_size or trained_image_size(folder) or DataConfig().image_size
        return cls.from_model(model, tokenizer, model_cfg, image_size=size, cache_dir=cache_dir)


def as_predictor(checkpoint_or_model, **kwargs) -> Predictor:
    """A :class:`Predictor` from a folder path or an existing one."""
    if isinstance(checkpoint_or_model, Predictor):
        return checkpoint_or_model
    if isinstance(checkpoint_or_model, str | Path):
        return Predictor.from_checkpoint(checkpoint_or_model, **kwargs)
    raise TypeError(f"expected a checkpoint folder or a Predictor, got {type(checkpoint_or_model).__name__}")
