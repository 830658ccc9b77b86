"""The inputs of an evaluation: prediction files, record files, and the data root of each record.

Prediction files (written by ``crabplus predict``) are JSON Lines, one row per sample::

    {"id": "ks-test-00001", "dataset": "ks", "predict": "<generated text>",
     "routing": {"model.layers.0.self_attn.q_proj": [0.2, 0.5, 0.3], ...}}   # routing optional

(``crabplus predict`` also writes ``prediction``, the structured answer it parsed, ``source``, the
input the row came from, and ``notes`` on media it had to complete; all are read past.)

Every row is validated; an error names the file, the line, the id and the field.

Data root (what media and mask paths of a record are relative to): ``--root`` when given;
otherwise, per record file, the nearest folder holding a ``manifest.json`` at or above the file's
folder (an AVSynth world), else the record file's own folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crabplus.schema.records import Record, RecordError, iter_record_files, load_records, read_jsonl
from crabplus.schema.registry import DATASETS

#: Keys ``crabplus predict`` writes beside the scored ones; read past (eval re-parses ``predict`` itself).
INFORMATIVE_KEYS = ("prediction", "source", "notes")


@dataclass
class PredictionRow:
    """One line of a prediction file."""

    id: str
    dataset: str
    predict: str
    routing: dict[str, list[float]] | None = None


def prediction_from_json(obj: Any, *, file: str | None = None, line: int | None = None) -> PredictionRow:
    """Validate one decoded prediction row; raise :class:`RecordError` naming what is wrong."""
    where: dict[str, Any] = {"file": file, "line": line}
    if not isinstance(obj, dict):
        raise RecordError(f"a prediction must be a JSON object, got {type(obj).__name__}", **where)
    rid = obj.get("id")
    if not isinstance(rid, str) or not rid:
        raise RecordError("missing or empty id", field="id", **where)
    where["record_id"] = rid
    unknown = set(obj) - {"id", "dataset", "predict", "routing", *INFORMATIVE_KEYS}
    if unknown:
        raise RecordError(f"unknown keys {sorted(unknown)}", field=sorted(unknown)[0], **where)
    dataset = obj.get("dataset")
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise RecordError(f"unknown dataset {dataset!r}", field="dataset", **where)
    predict = obj.get("predict")
    if not isinstance(predict, str):
        raise RecordError(f"expected the generated text, got {type(predict).__name__}", field="predict", **where)
    routing = obj.get("routing")
    if routing is not None:
        if not isinstance(routing, dict):
            raise RecordError("expected {layer: [w_0, ..., w_N-1]}", field="routing", **where)
        sizes = set()
        for layer, weights in routing.items():
            ok = isinstance(weights, list) and weights and all(
                isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) and w >= 0 for w in weights
            )
            if not ok:
                raise RecordError(f"expected a non-empty list of finite weights >= 0, got {weights!r}",
                                  field=f"routing.{layer}", **where)
            sizes.add(len(weights))
        if len(sizes) > 1:
            raise RecordError(f"layers disagree on the number of heads: {sorted(sizes)}", field="routing", **where)
        routing = {str(k): [float(w) for w in v] for k, v in routing.items()}
    return PredictionRow(rid, dataset, predict, routing)


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
            raise RecordError("duplicate prediction id", file="<predictions>", line=i + 1, record_id=row.id,
                              field="id")
        seen.add(row.id)
        out.append(row)
    return out


def default_root(record_file: str | Path) -> Path:
    """The data root of a record file: the nearest folder holding ``manifest.json`` at or above the
    file's folder (an AVSynth world), else the file's own folder."""
    folder = Path(record_file).resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / "manifest.json").is_file():
            return candidate
    return folder


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
                raise RecordError(f"duplicate id (also in {origin[rec.id]})", file=str(file), record_id=rec.id,
                                  field="id")
            origin[rec.id] = str(file)
            roots[rec.id] = file_root
            records.append(rec)
    return records, roots
