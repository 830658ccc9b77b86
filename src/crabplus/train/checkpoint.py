"""Training checkpoints: atomic folders with everything needed to continue the same run.

Layout of ``OUTPUT_DIR/checkpoint-<step>/``:

- the exported model, written by ``crabplus.model`` (what ``crabplus predict``/``eval`` load),
  plus ``run_config.yaml`` (the resolved run configuration: image size, adapter, ...);
- ``trainable.safetensors``: the trained parameters by fully qualified name (exact resume);
- ``optimizer.safetensors`` + ``optimizer.json``: AdamW moments and hyper-parameters, flattened
  (no pickles, see :mod:`crabplus.train.state`);
- ``rng-rank<r>.safetensors`` + ``.json``: each process's random generators (dropout);
- ``train_state.json``: step, scheduler, sampler position and fingerprint, world size.

A checkpoint is built in ``.tmp-checkpoint-<step>`` and renamed into place when complete, so a
folder named ``checkpoint-<step>`` is always whole; a kill mid-save leaves only a temp folder,
removed by the next save. ``save_total_limit`` keeps the newest ones.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from crabplus.utils.errors import CrabplusError
from crabplus.utils.io import apply_umask, read_json

_NAME = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "train_state.json"
#: the files of a checkpoint that only resume training (the rest is the loadable model), as glob patterns
RESUME_FILES = ("trainable.safetensors", "optimizer.*", "rng-rank*", STATE_FILE)


class CheckpointError(CrabplusError, ValueError):
    """A training checkpoint is missing, incomplete or belongs to another run."""


def checkpoint_dir(output_dir: str | Path, step: int) -> Path:
    return Path(output_dir) / f"checkpoint-{step}"


def temp_dir(output_dir: str | Path, step: int) -> Path:
    return Path(output_dir) / f".tmp-checkpoint-{step}"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run folder, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_dir() and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def last_checkpoint(output_dir: str | Path) -> Path | None:
    ckpts = list_checkpoints(output_dir)
    return ckpts[-1][1] if ckpts else None


def _fsync_tree(path: Path) -> None:
    for child in path.rglob("*"):
        if child.is_file():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())


def begin(output_dir: str | Path, step: int) -> Path:
    """Create an empty temp folder for the checkpoint of ``step`` (main rank; others wait)."""
    for stale in Path(output_dir).glob(".tmp-checkpoint-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = temp_dir(output_dir, step)
    tmp.mkdir(parents=True)
    return tmp


def commit(output_dir: str | Path, step: int, state: dict[str, Any], *, keep: int) -> Path:
    """Write ``train_state.json`` last, flush everything, rename into place, drop old ones."""
    tmp = temp_dir(output_dir, step)
    (tmp / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
    apply_umask(tmp)  # safetensors writes 0600: teammates must be able to read a checkpoint
    _fsync_tree(tmp)
    final = checkpoint_dir(output_dir, step)
    if final.exists():  # the same step saved again (e.g. a resumed run): replace it whole
        shutil.rmtree(final)
    os.replace(tmp, final)
    if keep > 0:
        for _, old in list_checkpoints(output_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    return read_json(
        path / STATE_FILE, CheckpointError, f"{path}: not a complete training checkpoint (no {STATE_FILE})"
    )
