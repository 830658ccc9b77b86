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
    REMOVED_KEYS = {
        "eval": "removed (never read; `crabplus eval --data` takes the record files to score)",
        "max_eval_per_dataset": "removed (never read; the demo's is the top-level max_eval_per_dataset)",
    }

    train: list[str] = field(default_factory=list)
    root: str | None = None
    datasets: list[str] | None = None
    skip_bad: bool = False
    image_size: int = 224
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.image_size < 28 or self.image_size % 28:
            raise ConfigError(f"data.image_size must be a positive multiple of 28, got {self.image_size}")


@dataclass
class ImportConfig:
    """``crabplus data import-avuie``: read the release under ``root`` (the folder holding ``AVUIE_2/``) and write
    unified records to ``out/<task>/<split>.jsonl`` with ``out/import_report.json``. ``tasks``/``splits`` limit
    what is read (None: all 19; both splits); ``skip_missing_media`` skips (and counts) records whose media are
    missing under ``root``; ``strict`` makes any skip exit 1. The other fields name the benchmarks' own
    ground-truth files, merged into the records (docs/data.md)."""

    root: str | None = field(default=None, metadata={"help": "the data root: the folder that holds AVUIE_2/"})
    out: str | None = field(
        default=None, metadata={"help": "output folder for the record files and the report", "metavar": "DIR"}
    )
    tasks: list[str] | None = field(
        default=None,
        metadata={"help": "task flags, comma-separated or several (default: all 19)", "split": ",", "metavar": "TASK"},
    )
    splits: list[str] = field(
        default_factory=lambda: ["train", "test"],
        metadata={"help": "train, test or both", "split": ",", "metavar": "SPLIT"},
    )
    skip_missing_media: bool = field(
        default=True,
        metadata={
            "help": "skip (and count) records whose media files are missing under ROOT; --no-skip-missing-media "
            "writes them anyway and counts them as kept"
        },
    )
    strict: bool = field(default=False, metadata={"help": "exit 1 when any record was skipped"})
    ave_annotations: str | None = field(
        default=None, metadata={"help": "AVE Annotations.txt (or a split file, same format)", "metavar": "FILE"}
    )
    avvp_eval_audio: str | None = field(
        default=None, metadata={"help": "AVVP_eval_audio.csv (needs --avvp-eval-visual)", "metavar": "FILE"}
    )
    avvp_eval_visual: str | None = field(
        default=None, metadata={"help": "AVVP_eval_visual.csv (needs --avvp-eval-audio)", "metavar": "FILE"}
    )
    music_avqa_json: list[str] = field(
        default_factory=list,
        metadata={
            "help": "MUSIC-AVQA avqa-{train,val,test}.json; several, or the flag repeated",
            "metavar": "FILE",
            "repeat": True,
        },
    )
    refavs_metadata: str | None = field(default=None, metadata={"help": "Ref-AVS metadata.csv", "metavar": "FILE"})
    unav_json: str | None = field(
        default=None,
        metadata={
            "help": "UnAV-100 unav100_annotations.json (also creates unav test records from its test subset)",
            "metavar": "FILE",
        },
    )

    def __post_init__(self) -> None:
        if (self.avvp_eval_audio is None) != (self.avvp_eval_visual is None):
            raise ConfigError("avvp_eval_audio and avvp_eval_visual: AVVP ground truth needs both CSVs")
