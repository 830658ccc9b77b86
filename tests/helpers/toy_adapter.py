"""A toy adapter kind, registered through the adapter table and nothing else (tests/test_adapter_table.py).

"Scale-shift": every targeted ``nn.Linear`` gets a learned per-output scale and shift, ``y = W0 x * (1 + s) + t``
(zero at init, so the adapted model equals the base). Its files: ``toy.safetensors`` and ``adapter_config.json``
holding ``{"adapter": "toy_scale", "config": {...}}``. No line outside this file names it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from crabplus.adapters import AdapterKind, AdapterLoadError, freeze_base, register_adapter, target_names
from crabplus.config.core import ConfigError

NAME = "toy_scale"
WEIGHTS = "toy.safetensors"


@dataclass
class ToyScaleConfig:
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    init: float = 0.0

    def __post_init__(self) -> None:
        if not self.target_modules:
            raise ConfigError("model.adapter_options.target_modules must name at least one module")


class ScaleShift(nn.Module):
    """``y = W0 x * (1 + s) + t``; ``s`` and ``t`` [d_out] are the adapter (their names hold ``.lora_``, the one
    filter for what trains and what is saved)."""

    def __init__(self, base: nn.Linear, config: ToyScaleConfig) -> None:
        super().__init__()
        self.base_layer = base  # PEFT's name: a full save strips ".base_layer." to give the base its own keys
        self.lora_scale = nn.Parameter(torch.full((base.out_features,), config.init))
        self.lora_shift = nn.Parameter(torch.zeros(base.out_features))
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base_layer(x) * (1 + self.lora_scale.to(x.dtype)) + self.lora_shift.to(x.dtype)  # [..., d_out]


def _layers(model: nn.Module):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, ScaleShift)]


def apply_toy(model: nn.Module, config: ToyScaleConfig) -> nn.Module:
    for name in target_names(model, config.target_modules, encoders=False):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, ScaleShift(getattr(parent, child), config))
    freeze_base(model)
    return model


def save_toy(model: nn.Module, directory: Path) -> None:
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if ".lora_" in k}
    save_file(state, str(directory / WEIGHTS))
    config = _layers(model)[0][1].config
    (directory / "adapter_config.json").write_text(json.dumps({"adapter": NAME, "config": asdict(config)}))


def load_toy(model: nn.Module, directory: Path, meta: dict, trainable: bool) -> nn.Module:
    if not _layers(model):
        apply_toy(model, ToyScaleConfig(**meta["config"]))
    state = load_file(str(directory / WEIGHTS))
    missing = {k for k in model.state_dict() if ".lora_" in k} ^ set(state)
    if missing:
        raise AdapterLoadError(f"{directory}: keys differ: {sorted(missing)[:5]}")
    model.load_state_dict(state, strict=False)
    for name, param in model.named_parameters():
        param.requires_grad_(trainable and ".lora_" in name)
    return model


def register() -> AdapterKind:
    return register_adapter(
        AdapterKind(NAME, ToyScaleConfig, apply_toy, save_toy, load_toy, owns=lambda model: bool(_layers(model)))
    )
