"""``crabplus lmms-tasks`` settings (no lmms-eval import: reading them stays cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class LmmsTasksConfig:
    """Write one lmms-eval task per dataset found in the record files or folders ``data`` into ``out``, tagged
    ``group`` (``crabplus_avuie`` for the real benchmarks, ``crabplus_avsynth`` for the AVSynth mirrors); the model
    generates up to ``max_new_tokens``. Media resolve against each file's data root, as ``crabplus eval``'s."""

    data: list[str] = field(
        default_factory=list,
        metadata={
            "help": "record files or folders (as crabplus eval --data: media resolve against each file's data root)"
        },
    )
    out: str | None = field(
        default=None, metadata={"help": "the task folder to write (--include_path)", "metavar": "DIR"}
    )
    group: Literal["crabplus_avuie", "crabplus_avsynth"] = field(
        default="crabplus_avsynth",
        metadata={"help": "crabplus_avuie for the real benchmarks, crabplus_avsynth for the AVSynth mirrors"},
    )
    max_new_tokens: int = field(
        default=512, metadata={"help": "longest answer each task's generation asks for, in tokens", "metavar": "N"}
    )
