"""crabplus.train: multi-task instruction tuning (base stage, I-LoRA / LoRA multi-task, single-task).

``train(run_cfg) -> TrainResult`` runs one stage alone or under ``torchrun`` (see docs/training.md).
Names are imported lazily so that reading a configuration does not import torch.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "recipe": ("TrainResult", "build_model", "train"),
        "sampler": ("TaskBalancedSampler", "mixing_weights"),
        "metrics": ("read_metrics",),
        "checkpoint": ("last_checkpoint", "list_checkpoints"),
    },
)
