"""crabplus.train: multi-task instruction tuning (base stage, I-LoRA / LoRA multi-task, single-task).

``train(run_cfg) -> TrainResult`` runs one stage alone or under ``torchrun`` (see docs/training.md).
Names are imported lazily so that reading a configuration does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "crabplus.train.recipe": ("TrainResult", "build_model", "train"),
    "crabplus.train.sampler": ("TaskBalancedSampler", "mixing_weights"),
    "crabplus.train.metrics": ("read_metrics",),
    "crabplus.train.checkpoint": ("last_checkpoint", "list_checkpoints"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'crabplus.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
