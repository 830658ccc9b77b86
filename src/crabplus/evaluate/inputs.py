"""The inputs of an evaluation: prediction files, record files, and the data root of each record.

Prediction files (written by ``crabplus predict`` and the demo) are JSON Lines of
:class:`crabplus.schema.rows.PredictionRow` (``id``, ``dataset``, ``predict`` — the generated text that is
scored — and the optional ``routing``, ``prediction``, ``source``, ``notes``). Every row is validated; an
error names the file, the line, the id and the field.

Data root (what media and mask paths of a record are relative to): ``--root`` when given;
otherwise, per record file, the nearest folder holding a ``manifest.json`` at or above the file's
folder (an AVSynth world), else the record file's own folder.
"""

from __future__ import annotations

from pathlib import Path

from crabplus.schema.records import Record, RecordError, default_root, iter_record_files, load_records, read_jsonl
from crabplus.schema.rows import PredictionRow, prediction_from_json


def load_predictions(path: str | Path) -> list[PredictionRow]:
    """Read and validate a prediction JSON Lines file (duplicate ids are an error)."""
    return read_jsonl(path, prediction_from_json, kind="prediction file")


def as_prediction_rows(predictions) -> list[PredictionRow]:
    """Prediction rows from :class:`PredictionRow` objects or plain dicts (the in-process API)."""
    out = []
    seen = set()
    for i, row in enumerate(predictions):
        if not isinstance(row, PredictionRow):
            row = prediction_from_json(row, file="<predictions>", line=i + 1)
        if row.id in seen:
            raise RecordError("duplicate prediction id", file="<predictions>", line=i + 1, record_id=row.id, field="id")
        seen.add(row.id)
        out.append(row)
    return out


def load_eval_records(paths: list[str | Path], root: str | Path | None = None) -> tuple[list[Record], dict[str, Path]]:
    """Records from files/folders and the data root of each record id (see the module docstring)."""
    records: list[Record] = []
    roots: dict[str, Path] = {}
    origin: dict[str, str] = {}
    files = iter_record_files(list(paths))
    if not files:
        raise RecordError(f"no *.jsonl record files in {', '.join(map(str, paths))}")
    for file in files:
        file_root = Path(root) if root is not None else default_root(file)
        for rec in load_records(file):
            if rec.id in origin:
                raise RecordError(
                    f"duplicate id (also in {origin[rec.id]})", file=str(file), record_id=rec.id, field="id"
                )
            origin[rec.id] = str(file)
            roots[rec.id] = file_root
            records.append(rec)
    return records, roots
