"""One base class for every error a user can cause, and the wrapping of everything else that goes
wrong while reading a user's file.

Why: the console script must turn any mistake in a user's input (a file, a record, a flag, a
config key) into one clear line and a non-zero exit, without a traceback, and without matching
class names. Every part raises its own subclass of :class:`CrabplusError` (``RecordError``,
``MediaError``, ``CheckpointError``, ``ConfigError``, ...); ``crabplus.cli.main`` catches the base.
Each class carries the exit code the CLI returns: 2 for a wrong command line or configuration
(like argparse), 1 for a bad file or state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class CrabplusError(Exception):
    """An error the user can fix; its message names the file, record/field or flag and what to do."""

    exit_code = 1


class UsageError(CrabplusError):
    """Bad command-line input that argparse cannot see (exit code 2)."""

    exit_code = 2


class InputFileError(CrabplusError):
    """A file given by the user could not be read (the message names it and the reason)."""


def describe(exc: BaseException) -> str:
    """``exc`` as one line: the OS's words for an OSError, else ``Type: message``."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.object[exc.start : exc.start + 1]!r} at offset {exc.start})"
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "too large to read into memory"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextmanager
def reading(path: str | Path | os.PathLike, what: str = "file") -> Iterator[None]:
    """Run a block that reads ``path``: a :class:`CrabplusError` passes through unchanged, any other
    exception (OSError, UnicodeDecodeError, RecursionError, a library's parse error, ...) becomes an
    :class:`InputFileError` naming the file."""
    try:
        yield
    except CrabplusError:
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except Exception as exc:
        raise InputFileError(f"{path}: cannot read this {what}: {describe(exc)}") from exc
