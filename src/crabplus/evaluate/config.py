"""Evaluation configuration: decoding and the segmenter that turns boxes + points into masks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class EvalConfig:
    """Greedy decoding (as the release) with ``max_new_tokens``; left-padded batches of
    ``batch_size``. ``segmenter``: ``grabcut`` (embedded default, OpenCV) or ``sam2`` with the local
    ``sam2_checkpoint`` directory.
    """

    max_new_tokens: int = 512
    batch_size: int = 4
    segmenter: Literal["grabcut", "sam2"] = "grabcut"
    sam2_checkpoint: str | None = None
    record_routing: bool = True
