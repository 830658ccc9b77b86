"""Prediction configuration: what ``crabplus predict`` reads, one field per setting (each with its flag's help).

The flags of ``crabplus predict`` are generated from these fields (``crabplus.config.cli``), so a setting,
its default and its check are written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crabplus.config.core import ConfigError


@dataclass
class PredictConfig:
    """``inputs``: one media file (answer one ``task`` on it and print the answer), or record files,
    folders and globs (write prediction JSON Lines to ``output``); ``checkpoint`` is a trained model
    folder. The other fields describe the question asked of one video and how the model decodes."""

    inputs: list[str] = field(default_factory=list)
    messages: str | None = field(
        default=None,
        metadata={
            "help": 'a JSON file of Qwen2.5-Omni chat messages ([{"role": "user", "content": [{"type": '
            '"video", "video": PATH}, {"type": "text", "text": QUESTION}]}]) instead of INPUT; with --task, '
            "the same answer as the --task call on those files",
            "metavar": "FILE",
        },
    )
    checkpoint: str | None = field(
        default=None, metadata={"help": "a trained model folder (OUTPUT_DIR/final); required", "metavar": "DIR"}
    )
    task: str | None = field(
        default=None,
        metadata={
            "help": "dataset whose task and format to use, e.g. ks, ave, s4 (not needed for record files; default "
            "with --question alone: avqa)"
        },
    )
    base: str | None = field(
        default=None,
        metadata={"help": "the base model folder of an adapter-only checkpoint, when it has moved", "metavar": "DIR"},
    )
    device: str | None = field(
        default=None,
        metadata={
            "help": "where to run the model: cpu, cuda, cuda:1 (default: a GPU for the real presets when there is "
            "one, else the CPU)"
        },
    )
    audio: str | None = field(
        default=None,
        metadata={
            "help": "audio file (default: the video's own sound track); for a2v the sound to match",
            "metavar": "FILE",
        },
    )
    video2: str | None = field(
        default=None, metadata={"help": "the second candidate video (a2v; VIDEO is the first)", "metavar": "FILE"}
    )
    audio2: str | None = field(
        default=None, metadata={"help": "the second candidate audio (v2a, with --audio)", "metavar": "FILE"}
    )
    question: str | None = field(
        default=None,
        metadata={
            "help": "the question (avqa, avqa_thu); for another task, or without --task, a free-form question that "
            "replaces the task's instruction"
        },
    )
    options: list[str] | None = field(default=None, metadata={"help": "the answer options (avqa_thu)"})
    expression: str | None = field(default=None, metadata={"help": "the object to find (ref_avs)"})
    frame_second: float | None = field(
        default=None,
        metadata={
            "help": "image tasks on a video: the second of the frame to use (default: the middle)",
            "metavar": "S",
        },
    )
    root: str | None = field(
        default=None,
        metadata={
            "help": "data root of record files' media (default: per file, the nearest folder holding manifest.json, "
            "else the file's folder)",
            "metavar": "DIR",
        },
    )
    output: str | None = field(
        default=None,
        metadata={
            "help": "many inputs: the prediction JSON Lines file (default: OUT/predictions.jsonl)",
            "metavar": "FILE",
        },
    )
    out: str | None = field(
        default=None,
        metadata={
            "help": "folder for the mask PNG and the result JSON of one video, or for predictions.jsonl (default: the "
            "current folder; one video writes no JSON file)",
            "metavar": "DIR",
        },
    )
    max_new_tokens: int | None = field(
        default=None,
        metadata={
            "help": "longest answer, in tokens (default: the task's: 128 for a label, a choice or a short answer, 192 "
            "for a box or mask, 256 for a caption, 384 for events, 512 for AVVP)",
            "metavar": "N",
        },
    )
    segmenter: Literal["grabcut", "sam2"] = field(
        default="grabcut", metadata={"help": "box+points -> mask for segmentation tasks"}
    )
    sam2_checkpoint: str | None = field(
        default=None, metadata={"help": "local SAM 2.1 folder (with --segmenter sam2)", "metavar": "DIR"}
    )
    batch_size: int = field(
        default=1,
        metadata={
            "help": "many inputs: answer this many at once (bucketed by task and prompt length; the file keeps the "
            "input order, and a float32 answer on the CPU is the same at any batch size)",
            "metavar": "B",
        },
    )
    decode: Literal["auto", "eager", "compiled"] = field(
        default="auto",
        metadata={
            "help": "many inputs: compiled = CUDA graphs over a static KV cache (CUDA only); auto = compiled on a "
            "CUDA device, eager elsewhere"
        },
    )
    merge: str | None = field(
        default=None,
        metadata={
            "help": "merge the part files a partial torchrun prediction left beside FILE into FILE (input order) and "
            "stop; needs no model; not while ranks of that prediction still run",
            "metavar": "FILE",
        },
    )
    allow_empty: bool = field(
        default=False, metadata={"help": "many inputs: an input list that yields nothing to answer is not an error"}
    )
    allow_changed_settings: bool = field(
        default=False,
        metadata={
            "help": "many inputs: continue an --output whose rows were made with other settings (a changed checkpoint, "
            "task or max_new_tokens, ...); the new settings go to OUTPUT.config.N.yaml. Without it that is refused"
        },
    )

    def __post_init__(self) -> None:
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens {self.max_new_tokens}: need at least 1")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size {self.batch_size}: need at least 1")
