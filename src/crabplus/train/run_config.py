"""The run configuration of ``crabplus train``: the components one training run reads, composed into one.

It lives with the part that owns the run (not in ``config/``, which holds only the machinery), so that
``config/`` imports nothing above ``utils``. Every section is read by the run: a section that nothing read
(AVSynth settings, evaluation settings) would be accepted and ignored, so there is none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crabplus.config.core import resolve_config
from crabplus.data.config import DataConfig
from crabplus.model.config import ModelConfig
from crabplus.train.config import TrainConfig


@dataclass
class RunConfig:
    """One run: its name and output folder, the seed (initial weights, sampling order, dropout), plus
    the data it reads, the model it builds and the training recipe."""

    #: keys an earlier version accepted and never read: named in the error, so an old YAML fails clearly
    REMOVED_KEYS = {
        "synth": "removed (training never read it; AVSynth is made by `crabplus data synth`)",
        "eval": "removed (training never read it; see `crabplus eval --help`)",
    }

    name: str = "run"
    output_dir: str = "runs/run"
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML preset (or the defaults when ``path`` is None) and apply dotted overrides."""
    return resolve_config(RunConfig, path, overrides)
