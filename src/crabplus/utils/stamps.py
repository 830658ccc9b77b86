"""The one rule for reusing a pipeline stage's output: a stamp beside it says what it was made from.

A stage (synthesize, the perception corpus, train, predict, evaluate, the validation split) writes
``<output>.stamp.json`` beside its output. The stamp holds a *key* — the SHA-256 of the stage's resolved
configuration and its inputs' fingerprints — and the SHA-256 of every file the stage wrote. The output is
reused only when the key the stage computes now equals the stamp's and every recorded file still has its
recorded content. Anything else — no stamp, a damaged or half-written stamp, another key, a missing or changed
output file — and the stage is redone.

Why content and not file times: a modification time says when a file was written, not what it holds. A copy,
a checkout, ``touch`` or a regeneration that writes the same bytes all move it without changing anything, and
a rewrite within the clock's resolution or with a restored time leaves it as it was; either way the old rule
(reuse when the output is newer than its inputs) trains again for nothing or reuses a stale result.

An input is fingerprinted by its upstream stamp when it has one (``<input>.stamp.json`` written by the stage
that made it, which the pipeline runs — and so checks — first; a 260 MB AVSynth set is then hashed once per
run, not once per stage that reads it), else by hashing its bytes (a file, or every file of a folder).
Names starting with ``.`` (atomic writes' temporaries, caches, AVSynth's marker) are not part of a folder's
fingerprint.

A stage writes its stamp twice, atomically: :func:`begin` (the key, no outputs: the output is being made
for this key, so an interrupted stage can resume what it began) before it works, and :func:`finish` (the
key and the outputs' hashes) once its output is complete.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crabplus.utils.io import atomic_write_json

STAMP_SUFFIX = ".stamp.json"
FORMAT = 1
_CHUNK = 1 << 20


def stamp_of(output: str | Path) -> Path:
    """Where the stamp of ``output`` (a file or a folder) lives: beside it, ``<name>.stamp.json``."""
    output = Path(output)
    return output.with_name(output.name + STAMP_SUFFIX)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def files_under(folder: str | Path) -> list[Path]:
    """Every file of ``folder`` (recursively, sorted), leaving out names that start with ``.``."""
    folder = Path(folder)
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def content_digest(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's files (their relative paths and contents)."""
    path = Path(path)
    if path.is_file():
        return file_digest(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: nothing to fingerprint (no such file or folder)")
    return _digest_of({p.relative_to(path).as_posix(): file_digest(p) for p in files_under(path)})


def input_digest(path: str | Path) -> str:
    """The fingerprint of a stage's input: the output digest its upstream stamp recorded, when it has a finished
    one, else the hash of its content."""
    stamp = read_stamp(stamp_of(path))
    if stamp is not None and stamp["digest"] is not None:
        return stamp["digest"]
    return content_digest(path)


def stage_key(config: Any, inputs: dict[str, Any]) -> str:
    """The key of one stage: SHA-256 of its resolved configuration and its inputs' fingerprints (canonical
    JSON: sorted keys, so the order of a dict never matters)."""
    return _digest_of({"config": config, "inputs": inputs})


def read_stamp(path: str | Path) -> dict | None:
    """The stamp at ``path``, or None when it is missing or damaged (not JSON, not this format, fields
    missing or of the wrong type): a stamp that cannot be read reuses nothing."""
    try:
        stamp = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(stamp, dict) or stamp.get("format") != FORMAT or not isinstance(stamp.get("key"), str):
        return None
    outputs, digest = stamp.get("outputs"), stamp.get("digest")
    finished = isinstance(outputs, dict) and isinstance(digest, str) and digest == _digest_of(outputs)
    if not finished and (outputs is not None or digest is not None):
        return None  # half a record of the outputs: damaged
    return stamp


def begun(output: str | Path, key: str) -> bool:
    """Whether the stamp of ``output`` says it was begun (finished or not) for ``key``."""
    stamp = read_stamp(stamp_of(output))
    return stamp is not None and stamp["key"] == key


def reusable(output: str | Path, key: str) -> bool:
    """Whether ``output`` may be reused for ``key``: its stamp is finished for this key and every file it
    recorded still has the recorded content (a folder: and holds no other file)."""
    output = Path(output)
    stamp = read_stamp(stamp_of(output))
    if stamp is None or stamp["key"] != key or stamp["digest"] is None:
        return False
    try:
        return _hashes(output, None if output.is_dir() else list(stamp["outputs"])) == stamp["outputs"]
    except OSError:  # a recorded file is gone or unreadable
        return False


def begin(output: str | Path, key: str, config: Any = None, inputs: dict[str, Any] | None = None) -> Path:
    """Stamp ``output`` as being made for ``key`` (no outputs recorded yet); ``config`` and ``inputs`` are kept
    in the stamp for whoever reads it, the key alone decides."""
    return atomic_write_json(
        stamp_of(output),
        {"format": FORMAT, "key": key, "config": config, "inputs": inputs, "outputs": None, "digest": None},
    )


def finish(
    output: str | Path,
    key: str,
    config: Any = None,
    inputs: dict[str, Any] | None = None,
    files: list[str] | None = None,
) -> str:
    """Stamp ``output`` as complete for ``key``, recording the hash of every file of it: a folder's files, the
    file itself, or (a stage that writes several files side by side) ``files``, names in the output's folder
    that include the output's own. Returns the output's digest (what a downstream stage's key holds)."""
    output = Path(output)
    if files is not None and output.name not in files:
        raise ValueError(f"{output}: the recorded files {files} must include the output itself")
    recorded = _hashes(output, files)
    digest = _digest_of(recorded)
    atomic_write_json(
        stamp_of(output),
        {"format": FORMAT, "key": key, "config": config, "inputs": inputs, "outputs": recorded, "digest": digest},
    )
    return digest


def run_once(output: str | Path, config: Any, inputs: dict[str, Any], make: Callable[[], list[str] | None]) -> bool:
    """The rule applied to a stage: True (nothing done) when ``output`` is reusable for this configuration and
    these inputs; else stamp it begun, call ``make()`` (which returns the side-by-side files it wrote, see
    :func:`finish`, or None), stamp it finished and return False. An exception in ``make`` leaves the stamp
    begun, so the next call makes the output again."""
    key = stage_key(config, inputs)
    if reusable(output, key):
        return True
    begin(output, key, config, inputs)
    files = make()
    finish(output, key, config, inputs, files=files)
    return False


def _hashes(output: Path, names: list[str] | None) -> dict[str, str]:
    """name -> SHA-256 of the output's files, names relative to the output's folder (where the stamp is): the
    given ``names``, else every file of a folder output, else the output file."""
    base = output.parent
    if names is None:
        paths = files_under(output) if output.is_dir() else [output]
        names = [p.relative_to(base).as_posix() for p in paths]
    return {name: file_digest(base / name) for name in names}


def _digest_of(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
