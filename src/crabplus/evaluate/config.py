"""Evaluation configuration: how predictions are scored, what the demo decodes with, what ``crabplus eval`` reads.

Three dataclasses share one set of scoring fields, so a setting is declared (and checked) once:
:class:`ScoringSettings` is what scoring reads (a family's ``score`` gets the few it needs as
``crabplus.tasks.families.ScoreConfig``); :class:`EvalConfig` adds the demo's decoding settings (the demo
predicts, then scores); :class:`EvalCommandConfig` adds the inputs and outputs of ``crabplus eval``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crabplus.config.core import ConfigError


@dataclass
class ScoringSettings:
    """``segmenter``: ``grabcut`` (embedded default, OpenCV) or ``sam2`` with the local
    ``sam2_checkpoint`` directory, to turn boxes + points into masks.

    ``frames_per_batch`` consecutive S4/MS3 frames share one J and F call (official: 4 videos x 5
    frames = 20); ``meteor`` runs the METEOR jar for captions (seconds of Java start-up);
    ``seed`` seeds the chance baseline, scored over ``chance_draws`` independent draws (their mean is the
    chance level, their 95th percentile the band a score must pass to count as beyond chance); the
    segmentation datasets take at most ``mask_chance_draws`` of them, since every draw of a mask costs one
    segmenter call per frame (GrabCut on a full-size AVSBench frame: tens of milliseconds).
    """

    segmenter: Literal["grabcut", "sam2"] = field(
        default="grabcut", metadata={"help": "box+points -> mask for S4/MS3/Ref-AVS (grabcut needs no weights)"}
    )
    sam2_checkpoint: str | None = field(
        default=None,
        metadata={"help": "local transformers SAM 2.1 folder (config.json + model.safetensors)", "metavar": "DIR"},
    )
    frames_per_batch: int = field(
        default=20, metadata={"help": "consecutive S4/MS3 frames per J and F call (official: 20)", "metavar": "N"}
    )
    meteor: bool = field(
        default=True, metadata={"help": "score captions with METEOR too (--no-meteor skips its Java start-up)"}
    )
    seed: int = field(default=0, metadata={"help": "seed of the chance baseline", "metavar": "N"})
    chance_draws: int = field(
        default=20,
        metadata={
            "help": "independent chance draws scored: their mean is the chance level, their 95th percentile the "
            "band a score must pass",
            "metavar": "N",
        },
    )
    mask_chance_draws: int = field(
        default=5,
        metadata={
            "help": "at most this many chance draws for S4/MS3/Ref-AVS/ARIG, each a segmenter call per frame",
            "metavar": "N",
        },
    )

    def __post_init__(self) -> None:
        if self.chance_draws < 1 or self.mask_chance_draws < 1:
            raise ConfigError(
                f"chance_draws and mask_chance_draws must be >= 1, got {self.chance_draws} and {self.mask_chance_draws}"
            )
        if self.frames_per_batch < 1:
            raise ConfigError(f"frames_per_batch must be >= 1, got {self.frames_per_batch}")
        if self.segmenter == "sam2" and not self.sam2_checkpoint:
            raise ConfigError("segmenter=sam2 needs sam2_checkpoint (a local transformers SAM 2 folder)")


@dataclass
class EvalConfig(ScoringSettings):
    """The demo's evaluation: greedy decoding (as the release) with ``max_new_tokens``, left-padded
    batches of ``batch_size``, then scoring as :class:`ScoringSettings` says."""

    max_new_tokens: int = 512
    batch_size: int = 4


@dataclass
class EvalCommandConfig(ScoringSettings):
    """``crabplus eval``: join ``predictions`` (a prediction JSON Lines file) with the record files or
    folders ``data`` by id and score them; ``root`` is the data root of media and masks (default: per
    record file, the nearest folder holding manifest.json, else the file's own folder); ``out`` the
    folder of the report (default: the predictions file's folder); ``allow_empty`` accepts an empty
    prediction file."""

    predictions: str | None = field(
        default=None, metadata={"help": "prediction JSON Lines file (crabplus predict)", "metavar": "FILE"}
    )
    data: list[str] = field(default_factory=list, metadata={"help": "record files or folders of *.jsonl record files"})
    root: str | None = field(
        default=None,
        metadata={
            "help": "data root of the media and masks; default: per record file, the nearest folder at or above it "
            "holding manifest.json (an AVSynth world), else the file's own folder",
            "metavar": "DIR",
        },
    )
    out: str | None = field(
        default=None, metadata={"help": "output folder (default: the predictions file's folder)", "metavar": "DIR"}
    )
    allow_empty: bool = field(
        default=False, metadata={"help": "an empty prediction file is not an error (the report is then empty)"}
    )


@dataclass
class TransferConfig:
    """``crabplus transfer``: compare the reports of the ``single``-task run folders with the ``multi``-task one's
    (and a ``baseline`` multi-task run's, e.g. plain LoRA, beside); ``out``: where the table goes (default:
    MULTI/transfer)."""

    single: list[str] = field(
        default_factory=list, metadata={"help": "single-task run folders (each holding report.json)", "metavar": "RUN"}
    )
    multi: str | None = field(default=None, metadata={"help": "the multi-task run folder", "metavar": "RUN"})
    baseline: str | None = field(
        default=None, metadata={"help": "a baseline multi-task run (e.g. plain LoRA) shown beside", "metavar": "RUN"}
    )
    out: str | None = field(
        default=None, metadata={"help": "output folder (default: MULTI/transfer)", "metavar": "DIR"}
    )
