"""Data configuration: which record files, where the media lives, how media becomes features."""

from __future__ import annotations

from dataclasses import dataclass, field

from crabplus.config.core import ConfigError


@dataclass
class DataConfig:
    """``train``: the JSON Lines record files (or folders of them) a run trains on; ``root`` is the data root
    that media paths resolve against (default: per record file, the nearest folder at or above it holding
    an AVSynth ``manifest.json``, else the file's own folder: ``crabplus.schema.records.default_root``).
    ``datasets`` limits a run to some datasets (None = all in the files). ``skip_bad`` turns unreadable media into a
    counted, reported skip instead of an error. ``image_size`` is the frame side in pixels (224 for
    the real model; the tiny preset uses less). ``cache_dir`` enables the on-disk feature cache.
    """

    #: keys an earlier version accepted and never read: named in the error, so an old YAML fails clearly
    REMOVED_KEYS = {"eval": "removed (never read; `crabplus eval --data` takes the record files to score)",
                    "max_eval_per_dataset": "removed (never read; the demo's is the top-level max_eval_per_dataset)"}

    train: list[str] = field(default_factory=list)
    root: str | None = None
    datasets: list[str] | None = None
    skip_bad: bool = False
    image_size: int = 224
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.image_size < 28 or self.image_size % 28:
            raise ConfigError(f"data.image_size must be a positive multiple of 28, got {self.image_size}")
