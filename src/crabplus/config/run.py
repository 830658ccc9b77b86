"""The run configuration: every component's dataclass composed into one, loadable from YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crabplus.config.core import apply_overrides, from_dict, load_yaml
from crabplus.data.config import DataConfig
from crabplus.evaluate.config import EvalConfig
from crabplus.model.config import ModelConfig
from crabplus.synth.config import SynthConfig
from crabplus.train.config import TrainConfig


@dataclass
class RunConfig:
    """One run: its name and output folder, plus one section per component."""

    name: str = "run"
    output_dir: str = "runs/run"
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML preset (or the defaults when ``path`` is None) and apply dotted overrides."""
    cfg = from_dict(RunConfig, load_yaml(path)) if path is not None else RunConfig()
    return apply_overrides(cfg, overrides)
