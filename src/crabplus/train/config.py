"""Training configuration: the multi-task instruction-tuning recipe (the release (docs/training.md) defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crabplus.config.core import ConfigError


@dataclass
class TrainConfig:
    """``stage``: ``base`` trains the whole tiny backbone (a random tiny model must first learn the
    synthetic world, standing in for a pretrained one); ``multitask`` trains the adapter on all
    datasets; ``single`` trains the adapter on ``single_dataset`` only (the transfer study).
    Sampling across datasets is proportional to size**(1/``sampling_temperature``); ``sampling_balance:
    task`` first gives every task type the same share, then splits it among its datasets by that rule.

    Length: ``max_steps`` optimizer steps, or, when ``epochs`` is set, as many steps as ``epochs``
    passes over the training records take (the release trains 5 epochs). One step is
    ``batch_size`` samples per process × ``grad_accum`` × the number of processes.

    Optimiser: AdamW(``adam_beta1``, ``adam_beta2``, ``adam_eps``, ``weight_decay`` on matrices only),
    ``lr_scheduler`` with linear warm-up over ``warmup_ratio`` of the steps, gradient clipping at
    ``max_grad_norm`` (0 = off). ``bf16``: autocast to bfloat16 (meant for GPUs).

    ``encoder_lr_scale``: the towers' learning rate (their projections into the LLM included) as a fraction of
    ``learning_rate`` once they were pretrained on their own (``crabplus.train.encoders``); 0 freezes them.

    Engine: ``distributed`` picks DDP or FSDP (FSDP2 ``fully_shard``) when launched with torchrun;
    ``fsdp_reshard_after_forward: false`` keeps parameters whole between forward and backward,
    which is ZeRO-2's sharding (gradients and optimizer state only) — what the release ran with
    DeepSpeed. ``deepspeed`` uses DeepSpeed itself with the JSON file ``deepspeed_config``
    (``configs/deepspeed/zero2.json``; GPU only, an optional install).

    Checkpoints every ``save_steps`` steps and at the end, keeping the newest
    ``save_total_limit`` (0 = all). ``log_steps``: how often a row goes to ``metrics.jsonl``;
    ``log_routing`` adds the mean I-LoRA router weights per dataset to those rows.

    The run's seed (initial weights, sampling order, dropout) is the top-level ``seed`` of the run config.
    """

    stage: Literal["base", "multitask", "single"] = "multitask"
    single_dataset: str | None = None
    max_steps: int = 1000
    epochs: float | None = None
    learning_rate: float = 1e-4
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    batch_size: int = 4
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    sampling_temperature: float = 1.0
    sampling_balance: Literal["dataset", "task"] = "dataset"
    bf16: bool = False
    encoder_lr_scale: float = 1.0
    save_steps: int = 500
    save_total_limit: int = 3
    log_steps: int = 10
    log_routing: bool = True
    num_workers: int = 0
    distributed: Literal["ddp", "fsdp", "deepspeed"] = "ddp"
    fsdp_reshard_after_forward: bool = True
    deepspeed_config: str | None = None

    def __post_init__(self) -> None:
        if self.stage == "single" and not self.single_dataset:
            raise ConfigError("train.single_dataset is required when train.stage is 'single'")
        if self.single_dataset is not None:
            from crabplus.schema.registry import DATASETS

            if self.single_dataset not in DATASETS:
                raise ConfigError(
                    f"train.single_dataset: unknown dataset {self.single_dataset!r} (known: {', '.join(DATASETS)})"
                )
        for name in ("max_steps", "batch_size", "grad_accum", "save_steps", "log_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.epochs is not None and self.epochs <= 0:
            raise ConfigError(f"train.epochs must be > 0, got {self.epochs}")
        if self.sampling_temperature <= 0:
            raise ConfigError(f"train.sampling_temperature must be > 0, got {self.sampling_temperature}")
        if self.learning_rate <= 0:
            raise ConfigError(f"train.learning_rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"train.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.encoder_lr_scale < 0:
            raise ConfigError(f"train.encoder_lr_scale must be >= 0, got {self.encoder_lr_scale}")
        if self.max_grad_norm < 0 or self.weight_decay < 0:
            raise ConfigError("train.max_grad_norm and train.weight_decay must be >= 0")
        if self.save_total_limit < 0 or self.num_workers < 0:
            raise ConfigError("train.save_total_limit and train.num_workers must be >= 0")
        if self.distributed == "deepspeed" and not self.deepspeed_config:
            raise ConfigError(
                "train.distributed 'deepspeed' needs train.deepspeed_config (e.g. configs/deepspeed/zero2.json)"
            )
