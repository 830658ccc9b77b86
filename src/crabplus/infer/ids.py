"""Row ids of prediction over many inputs, and the rule that they never collide.

Why: a prediction file is resumed by id (a re-run skips the ids already written), so two inputs that
share an id make the second one silently "already there". A media file's id is its path relative to the
folder holding all the media given, suffix kept: ``clip.mp4`` and ``clip.mov`` (or ``ring.wav`` and
``ring.mp3``) are two inputs, not one. A record keeps its own id; the same id in two record files, or
the same file named twice, is an error naming both places.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from crabplus.utils.errors import UsageError


def media_id(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` (its name when it lies elsewhere), with ``/`` and its suffix."""
    try:
        rel = path.resolve().relative_to(base)
    except ValueError:
        rel = Path(path.name)
    return str(rel).replace(os.sep, "/")


def check_unique_ids(items: Iterable) -> None:
    """Every item (``.id``, ``.source``) has its own id; else a UsageError names the id and both sources."""
    first: dict[str, str] = {}
    for item in items:
        if item.id in first:
            seen = first[item.id]
            where = f"{seen} and {item.source}" if seen != item.source else f"{seen} (given twice)"
            raise UsageError(
                f"input id {item.id!r} comes twice, from {where}: every row of a prediction file "
                "needs its own id (give each file once; rename one of the records)"
            )
        first[item.id] = item.source
