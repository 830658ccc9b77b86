"""A tiny prediction checkpoint without training: the tiny thinker with I-LoRA adapters of random weights (so
that routing differs between samples and heads), saved as `crabplus train` saves its `final/` folder, with the
frame size of the small AVSynth set. What the prediction-at-scale tests and `benchmarks/predict.py` load."""

from __future__ import annotations

from pathlib import Path

import torch

from crabplus.data.tokenizer import build_tiny_tokenizer
from crabplus.model.build import attach_adapter, build_thinker
from crabplus.model.checkpoint import save_checkpoint
from crabplus.model.config import ModelConfig
from helpers.model import randomize_adapters, tiny_model_config


def save_tiny_checkpoint(
    folder: str | Path, *, image_size: int = 56, seed: int = 0, model_cfg: ModelConfig | None = None
) -> Path:
    """Write the checkpoint to ``folder`` and return it; ``model_cfg`` defaults to the tests' tiny I-LoRA one."""
    folder = Path(folder)
    tokenizer = build_tiny_tokenizer()
    cfg = model_cfg or tiny_model_config()
    torch.manual_seed(seed)
    model = attach_adapter(build_thinker(cfg, tokenizer), cfg)
    randomize_adapters(model, scale=0.5, seed=seed + 1)
    save_checkpoint(folder, model, tokenizer, cfg)
    (folder / "run_config.yaml").write_text(f"data:\n  image_size: {image_size}\n", encoding="utf-8")
    return folder
