"""AVSynth generation settings (the embedded synthetic audio-visual world)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

from crabplus.config.core import ConfigError
from crabplus.schema.registry import DATASETS


@dataclass
class SynthConfig:
    """``per_dataset`` clips per mirror dataset (split into train/test by ``test_fraction``), rendered
    at ``image_size`` pixels, ``fps`` frames per second and ``sample_rate`` Hz. ``clip_seconds`` is
    the length of video clips (localisation tasks need 10 one-second segments); ``avs_seconds`` the
    length of the AVSBench-like clips (s4, ms3, arig: 5 s, one frame per second); ``emotion_seconds``
    the length of the talking-face clips (the pipeline keeps the first 4 s). ``reasoning`` picks the
    reasoning-chain granularity written before each answer. ``datasets`` limits generation to some
    mirror datasets (None = every registered dataset that has a mirror: the 19). ``workers`` processes render
    clips in parallel (0 = one per CPU core, at most 8); the output is the same bytes whatever the number.
    """

    per_dataset: int = field(default=24, metadata={"help": "clips per dataset, train + test", "metavar": "N"})
    seed: int = field(default=0, metadata={"help": "random seed", "metavar": "N"})
    image_size: int = field(default=56, metadata={"help": "frame side in pixels (even)", "metavar": "PX"})
    clip_seconds: int = field(default=10, metadata={"help": "length of video clips", "metavar": "S"})
    avs_seconds: int = 5
    emotion_seconds: int = 4
    fps: int = field(default=2, metadata={"help": "video frame rate", "metavar": "N"})
    sample_rate: int = field(default=16000, metadata={"help": "audio sample rate in Hz", "metavar": "HZ"})
    test_fraction: float = field(
        default=0.25,
        metadata={
            "help": "fraction of each dataset's clips in the test split",
            "metavar": "F",
            "aliases": ("--split-ratio",),
        },
    )
    reasoning: Literal["none", "short", "full"] = field(
        default="short", metadata={"help": "reasoning chain written before each answer"}
    )
    datasets: list[str] | None = field(
        default=None,
        metadata={"help": "datasets to generate, comma-separated or several (default: all 19)", "split": ","},
    )
    workers: int = field(
        default=1, metadata={"help": "processes (0 = one per core; same bytes either way)", "metavar": "N"}
    )

    def __post_init__(self) -> None:
        if self.per_dataset < 2:
            raise ConfigError(f"synth.per_dataset must be >= 2, got {self.per_dataset}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"synth.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.image_size < 28 or self.image_size % 2:
            raise ConfigError(
                f"synth.image_size must be even and >= 28 (H.264 yuv420p halves it), got {self.image_size}"
            )
        if self.clip_seconds < 4:
            raise ConfigError(f"synth.clip_seconds must be >= 4, got {self.clip_seconds}")
        if self.avs_seconds < 1 or self.emotion_seconds < 1:
            raise ConfigError(
                f"synth.avs_seconds and synth.emotion_seconds must be >= 1, got "
                f"{self.avs_seconds} and {self.emotion_seconds}"
            )
        if self.fps < 1:
            raise ConfigError(f"synth.fps must be >= 1, got {self.fps}")
        if self.sample_rate < 8000:
            raise ConfigError(f"synth.sample_rate must be >= 8000, got {self.sample_rate}")
        if self.workers < 0:
            raise ConfigError(f"synth.workers must be >= 0, got {self.workers}")
        if self.datasets is not None:
            unknown = [d for d in self.datasets if d not in DATASETS]
            if unknown:
                raise ConfigError(f"synth.datasets: unknown {unknown} (known: {', '.join(DATASETS)})")
            if not self.datasets:
                raise ConfigError("synth.datasets: empty list (use null for all datasets)")

    @property
    def split_sizes(self) -> tuple[int, int]:
        """(train, test) clips per dataset: at least one of each."""
        n_test = min(self.per_dataset - 1, max(1, round(self.per_dataset * self.test_fraction)))
        return self.per_dataset - n_test, n_test


@dataclass
class SynthCommandConfig(SynthConfig):
    """``crabplus data synth``: the AVSynth settings plus ``out``, the folder (the data root) to write:
    new, empty, or a previous AVSynth folder (which is replaced)."""

    out: str | None = field(
        default=None,
        metadata={
            "help": "output folder (the data root); new, empty, or a previous AVSynth folder (which is replaced)",
            "metavar": "DIR",
        },
    )

    def synth(self) -> SynthConfig:
        """The generation settings alone (what ``generate`` reads and the manifest records)."""
        return SynthConfig(**{f.name: getattr(self, f.name) for f in fields(SynthConfig)})


#: Named sizes. ``tiny``: tests; ``demo``: the CPU demo (19 x 24 clips, seconds to generate);
#: ``full``: the transfer experiment (larger frames, enough clips per task for a real comparison).
PRESETS: dict[str, dict] = {
    "tiny": {"per_dataset": 4, "image_size": 56},
    "demo": {"per_dataset": 24, "image_size": 56},
    "full": {"per_dataset": 1200, "image_size": 112, "workers": 0},
}


def preset(name: str, **overrides) -> SynthConfig:
    """The named preset with ``overrides`` applied; an unknown name is an error listing the known."""
    if name not in PRESETS:
        raise ConfigError(f"unknown synth preset {name!r} (known: {', '.join(PRESETS)})")
    return replace(SynthConfig(**PRESETS[name]), **overrides)
