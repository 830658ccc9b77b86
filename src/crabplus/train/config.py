"""Training configuration: the multi-task instruction-tuning recipe (reference A7 defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crabplus.config.core import ConfigError


@dataclass
class TrainConfig:
    """``stage``: ``base`` trains the whole tiny backbone (a random tiny model must first learn the
    synthetic world, standing in for a pretrained one); ``multitask`` trains the adapter on all
    datasets; ``single`` trains the adapter on ``single_dataset`` only (the transfer study).
    Sampling across datasets is proportional to size**(1/``sampling_temperature``).
    """

    stage: Literal["base", "multitask", "single"] = "multitask"
    single_dataset: str | None = None
    max_steps: int = 1000
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    batch_size: int = 4
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    sampling_temperature: float = 1.0
    bf16: bool = False
    save_steps: int = 500
    save_total_limit: int = 3
    log_steps: int = 10
    seed: int = 42
    num_workers: int = 0
    distributed: Literal["ddp", "fsdp"] = "ddp"

    def __post_init__(self) -> None:
        if self.stage == "single" and not self.single_dataset:
            raise ConfigError("train.single_dataset is required when train.stage is 'single'")
        if self.max_steps < 1:
            raise ConfigError(f"train.max_steps must be >= 1, got {self.max_steps}")
        if self.sampling_temperature <= 0:
            raise ConfigError(f"train.sampling_temperature must be > 0, got {self.sampling_temperature}")
