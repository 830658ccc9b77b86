"""Rank-0 helpers, so that code never needs ``if rank == 0`` sprinkled around (nanochat's habit)."""

from __future__ import annotations

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return rank() == 0


def print0(*args, **kwargs) -> None:
    """``print`` on the main process only."""
    if is_main_process():
        print(*args, **kwargs, flush=True)
