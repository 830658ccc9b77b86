"""An on-disk cache of decoded frames and audio features, keyed by file content and parameters.

Why: decoding a clip costs far more than a training step of the tiny model, and multi-epoch runs decode the
same clips again and again. An entry's key hashes the *content* of every source file (so a file replaced
under the same name is never served stale) together with every parameter of the computation and a format
version. Entries are ``.npy`` arrays read with ``allow_pickle=False`` (never pickle), written atomically
(temporary file + rename) so that concurrent data-loader workers and crashes cannot leave a half entry; an
unreadable entry is recomputed and replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crabplus.utils.io import _UMASK

#: Bumped whenever what an entry holds changes meaning (invalidates every older entry).
CACHE_VERSION = 1


class MediaCache:
    """``get_or_compute(kind, sources, params, compute)`` returns the cached array or computes and stores it."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._hashes: dict[tuple[str, int, int], str] = {}
        self.hits = 0
        self.misses = 0

    def file_hash(self, path: str | Path) -> str:
        """BLAKE2b of the file's bytes; remembered per (path, size, mtime) within this process only."""
        path = Path(path)
        st = path.stat()
        memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if memo_key not in self._hashes:
            digest = hashlib.blake2b(digest_size=20)
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            self._hashes[memo_key] = digest.hexdigest()
        return self._hashes[memo_key]

    def key(self, kind: str, sources: list[str | Path], params: dict[str, Any]) -> str:
        payload = {"v": CACHE_VERSION, "kind": kind, "files": [self.file_hash(p) for p in sources], "params": params}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def _entry(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.npy"

    def get_or_compute(
        self, kind: str, sources: list[str | Path], params: dict[str, Any], compute: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The array for (kind, source contents, params): from disk when present, else ``compute()`` stored."""
        entry = self._entry(kind, self.key(kind, sources, params))
        if entry.is_file():
            try:
                value = np.load(entry, allow_pickle=False)
                self.hits += 1
                return value
            except (OSError, ValueError):
                pass  # a damaged entry: recompute and replace it
        value = compute()
        self.misses += 1
        self._store(entry, value)
        return value

    @staticmethod
    def _store(entry: Path, value: np.ndarray) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=entry.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; the cache is shared like the data
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, np.ascontiguousarray(value), allow_pickle=False)
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
