"""AVSynth generation settings (the embedded synthetic audio-visual world)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crabplus.config.core import ConfigError


@dataclass
class SynthConfig:
    """``per_dataset`` clips per mirror dataset (split into train/test by ``test_fraction``), rendered
    at ``image_size`` pixels, ``fps`` frames per second and ``sample_rate`` Hz. ``clip_seconds`` is
    the length of video clips (localisation tasks need 10 one-second segments). ``reasoning`` picks
    the reasoning-chain granularity written before each answer.
    """

    per_dataset: int = 24
    seed: int = 0
    image_size: int = 56
    clip_seconds: int = 10
    fps: int = 2
    sample_rate: int = 16000
    test_fraction: float = 0.25
    reasoning: Literal["none", "short", "full"] = "short"
    datasets: list[str] | None = None

    def __post_init__(self) -> None:
        if self.per_dataset < 2:
            raise ConfigError(f"synth.per_dataset must be >= 2, got {self.per_dataset}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"synth.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.image_size < 16:
            raise ConfigError(f"synth.image_size must be >= 16, got {self.image_size}")
