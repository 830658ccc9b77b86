"""Evaluation configuration: decoding, the segmenter that turns boxes + points into masks, scoring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crabplus.config.core import ConfigError


@dataclass
class EvalConfig:
    """Greedy decoding (as the release) with ``max_new_tokens``; left-padded batches of
    ``batch_size``. ``segmenter``: ``grabcut`` (embedded default, OpenCV) or ``sam2`` with the local
    ``sam2_checkpoint`` directory.

    Scoring: ``frames_per_batch`` consecutive S4/MS3 frames share one J and F call (official: 4
    videos x 5 frames = 20); ``meteor`` runs the METEOR jar for captions (seconds of Java start-up);
    ``seed`` seeds the chance baseline, scored over ``chance_draws`` independent draws (their mean is the
    chance level, their 95th percentile the band a score must pass to count as beyond chance); the
    segmentation datasets take at most ``mask_chance_draws`` of them, since every draw of a mask costs one
    segmenter call per frame (GrabCut on a full-size AVSBench frame: tens of milliseconds).
    """

    max_new_tokens: int = 512
    batch_size: int = 4
    segmenter: Literal["grabcut", "sam2"] = "grabcut"
    sam2_checkpoint: str | None = None
    record_routing: bool = True
    frames_per_batch: int = 20
    meteor: bool = True
    seed: int = 0
    chance_draws: int = 20
    mask_chance_draws: int = 5

    def __post_init__(self) -> None:
        if self.chance_draws < 1 or self.mask_chance_draws < 1:
            raise ConfigError(f"eval.chance_draws and eval.mask_chance_draws must be >= 1, got {self.chance_draws} "
                              f"and {self.mask_chance_draws}")
        if self.frames_per_batch < 1:
            raise ConfigError(f"eval.frames_per_batch must be >= 1, got {self.frames_per_batch}")
        if self.segmenter == "sam2" and not self.sam2_checkpoint:
            raise ConfigError("eval.segmenter=sam2 needs eval.sam2_checkpoint (a local transformers SAM 2 folder)")
