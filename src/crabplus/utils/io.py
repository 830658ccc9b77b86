"""Atomic writes: a file either keeps its old content or has the complete new one, never half.
And one JSON-file reader whose every failure is the caller's own error type, naming the file.

Why: long runs write checkpoints and reports; a crash (or a kill) mid-write must not destroy what
was there. Everything goes to a temporary file in the same directory, is fsynced, then renamed.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and then atomically rename ``tmp_path`` onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode open() would
    try:
        write(tmp_path)
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def make_temp_dir(parent: str | Path, prefix: str, suffix: str = "") -> Path:
    """A fresh temporary folder in ``parent`` with the mode ``mkdir`` would give (mkdtemp makes 0700,
    which a folder renamed into place would keep: teammates could not read the checkpoint)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    return tmp


def apply_umask(root: str | Path) -> None:
    """Give every file and folder under ``root`` (and ``root``) the mode open()/mkdir() would give under
    the process umask. safetensors' writer creates files 0600, so a saved model would be unreadable to
    teammates; folders are fixed here before they are renamed into place."""
    root = Path(root)
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~_UMASK)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return atomic_write_text(path, text)


def read_json(path: str | Path, error: Callable[[str], Exception], missing: str | None = None) -> Any:
    """The decoded content of the JSON file ``path``; every failure is raised as ``error(message)``.

    ``missing`` is the message for a file that does not exist (default: ``"{path}: no such file"``);
    bad JSON and non-UTF-8 text name the file and where it breaks.
    """
    path = Path(path)
    if not path.is_file():
        raise error(missing or f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text: {exc}") from None
    except RecursionError:  # json's decoder recurses once per bracket
        raise error(f"{path}: JSON nested too deeply to read") from None


def read_json_object(path: str | Path, error: Callable[[str], Exception], missing: str | None = None) -> dict:
    """:func:`read_json` of a file that must hold one JSON object (a list or a number is named as such)."""
    data = read_json(path, error, missing)
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")  # safetensors' names of the dtypes model weights may have


def _dtype_name(code: object) -> str:
    """safetensors' dtype code in torch's words: ``I8`` -> ``int8``, ``BF16`` -> ``bfloat16``."""
    match = re.fullmatch(r"(BF|F|I|U)(\d+)", str(code))
    if match is None:
        return str(code).lower()
    return {"BF": "bfloat", "F": "float", "I": "int", "U": "uint"}[match.group(1)] + match.group(2)


def read_safetensors_header(path: str | Path, error: Callable[[str], Exception], *, weights: bool = False) -> dict:
    """The JSON header of a ``.safetensors`` file, checked against the file's size; a missing, empty,
    truncated or foreign file (a pickle renamed, say) is raised as ``error(message)`` naming the file.
    ``weights``: every tensor must be floating point too (an int8 or int32 tensor would otherwise be cast
    into the model's parameter without a word by the loaders: a quantised or foreign file).

    The format starts with an 8-byte little-endian header length and a JSON header whose offsets say
    where each tensor's bytes end; checking both against the file size catches truncation before any
    library reads the file.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    size = path.stat().st_size
    if size < 8:
        raise error(f"{path}: empty or truncated ({size} bytes), not a safetensors file; save the checkpoint again")
    with open(path, "rb") as handle:
        n = int.from_bytes(handle.read(8), "little")
        head = handle.read(n) if 0 < n <= min(size - 8, 1 << 27) else b""
    try:
        header = json.loads(head.decode("utf-8")) if head else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise error(
            f"{path}: not a safetensors file (a pickle, another format or a damaged header); "
            "only safetensors weights are read"
        )
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        raise error(f"{path}: damaged safetensors header (a tensor without data offsets)") from None
    if 8 + n + end > size:
        raise error(f"{path}: truncated: the header describes {8 + n + end} bytes, the file has {size}")
    if weights:
        wrong = sorted(
            (k, v.get("dtype")) for k, v in header.items() if k != "__metadata__" and v.get("dtype") not in FLOAT_DTYPES
        )
        if wrong:
            name, dtype = wrong[0]
            more = f" (and {len(wrong) - 1} more tensor(s) not floating point)" if len(wrong) > 1 else ""
            raise error(
                f"{path}: tensor {name!r} is {_dtype_name(dtype)}{more}; model weights must be "
                f"{', '.join(_dtype_name(d) for d in FLOAT_DTYPES)}"
            )
    return header


def read_safetensors(path: str | Path, error: Callable[[str], Exception], *, weights: bool = False) -> dict:
    """The tensors of a ``.safetensors`` file (checked first by :func:`read_safetensors_header`)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    read_safetensors_header(path, error, weights=weights)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise error(f"{path}: damaged safetensors file: {exc}") from None
