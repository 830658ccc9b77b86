"""Reading one whole JSON file of a dataset release, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crabplus.schema.records import RecordError


def read_json(path: str | Path, what: str) -> Any:
    """The decoded content of ``path``; a missing file, bad JSON or non-UTF-8 text is a RecordError
    naming the file (``what`` says which kind of file was expected, for the missing-file message)."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"no such {what}", file=str(path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", file=str(path)
        ) from None
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 text: {exc}", file=str(path)) from None
    except RecursionError:  # json's decoder recurses once per bracket: a 100k-deep file exhausts the stack
        raise RecordError("JSON nested too deeply to read", file=str(path)) from None
