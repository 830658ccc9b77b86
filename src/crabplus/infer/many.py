"""Prediction over many inputs from the command line: a record file, a folder or a glob of media files.

Why: a user who trained with ``crabplus train`` must get from a checkpoint to ``crabplus eval`` with
the CLI alone. Every row goes to the prediction JSON Lines file as soon as it is answered (appended
and flushed), so an interrupted run loses nothing: a re-run skips the ids already written (a torn
last line is dropped first). An input that cannot be read (a bad record, unreadable media) is a
counted skip with its reason, written to ``<output>.skipped.jsonl``; the other inputs go on.

Rows (:class:`crabplus.schema.rows.PredictionRow`): ``id``, ``dataset``, ``predict`` — the generated
text (what ``crabplus eval`` scores), ``prediction`` the structured answer parsed from it,
``routing`` the I-LoRA router summary (mean weight of each head per layer over the prompt), and
``source`` the record file or media file the row came from.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crabplus.schema.records import Record, RecordError, load_records
from crabplus.schema.rows import PredictionRow
from crabplus.utils.errors import CrabplusError, UsageError, describe

log = logging.getLogger(__name__)

RECORD_SUFFIXES = (".jsonl",)
MEDIA_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".wav", ".mp3", ".flac", ".ogg", ".m4a",
                  ".aac", ".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class Item:
    """One thing to answer: a record and its data root, or why it could not become one."""

    id: str
    source: str
    record: Record | None = None
    root: Path | None = None
    problem: str | None = None


@dataclass
class RunSummary:
    output: Path
    written: int = 0
    already: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    skip_report: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {"output": str(self.output), "written": self.written, "already_done": self.already,
                "skipped": len(self.skipped), "skip_report": str(self.skip_report) if self.skip_report else None}


def is_record_file(path: Path) -> bool:
    return path.suffix.lower() in RECORD_SUFFIXES


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files named by ``inputs``: a file as given; a folder's record files (recursive, sorted), or its
    media files when it holds no record file; a glob's matches. An input matching nothing is a UsageError naming it."""
    out: list[Path] = []
    for text in inputs:
        path = Path(text)
        if any(ch in text for ch in "*?[") and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise UsageError(f"input {text!r}: the pattern matches no file")
            out.extend(m for m in matches if m.is_file())
        elif path.is_dir():  # its record files if it holds any (a data folder), else its media files
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            records = [p for p in files if is_record_file(p)]
            out.extend(records or [p for p in files if p.suffix.lower() in MEDIA_SUFFIXES])
        elif path.is_file():
            out.append(path)
        else:
            raise UsageError(f"input {text!r}: no such file or folder")
    return out


def iter_items(files: list[Path], *, task: str | None, root: str | None, record_args: dict[str, Any]) -> Iterator[Item]:
    """Items from record files (every valid record; an invalid one is an Item with its problem) and
    media files (a record built from the flags, ``--task`` required)."""
    from crabplus.infer.ids import media_id
    from crabplus.infer.single import build_record
    from crabplus.schema.records import default_root

    media = [f for f in files if not is_record_file(f)]
    base = Path(os.path.commonpath([str(f.resolve().parent) for f in media])) if media else Path.cwd()
    for path in files:
        if is_record_file(path):
            errors: list[RecordError] = []
            try:
                records = load_records(path, errors=errors)
            except CrabplusError as exc:
                yield Item(id=str(path), source=str(path), problem=str(exc))
                continue
            for err in errors:
                rid = err.record_id or f"{path}:{err.line}"
                yield Item(id=rid, source=str(path), problem=str(err))
            data_root = Path(root) if root is not None else default_root(path)
            for rec in records:
                yield Item(id=rec.id, source=str(path), record=rec, root=data_root)
            continue
        if task is None:
            raise UsageError(f"input {path}: media files need --task (which task to ask), or give a record file")
        rid = media_id(path, base)
        try:
            record, data_root = build_record(task, path, **record_args)
        except CrabplusError as exc:
            if getattr(exc, "flag", None):
                raise  # a missing or wrong flag is the command's problem, not this file's
            yield Item(id=rid, source=str(path), problem=str(exc))
            continue
        record.id = rid
        yield Item(id=rid, source=str(path), record=record, root=data_root)


def read_done(output: Path) -> set[str]:
    """Ids already in a prediction file; a torn last line (a killed run) is cut off with a note."""
    if not output.is_file():
        return set()
    raw = output.read_bytes()
    done: set[str] = set()
    good_end = 0
    pos = 0
    for line in raw.splitlines(keepends=True):
        pos += len(line)
        text = line.strip()
        if not text:
            good_end = pos
            continue
        try:
            row = json.loads(text.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            row = None
        if (not isinstance(row, dict) or not isinstance(row.get("id"), str) or "predict" not in row
                or not line.endswith(b"\n")):  # a record file has ids too, but no answer
            if pos == len(raw):  # the last line only: the run was killed while writing it
                log.warning("%s: dropped a torn last line (an interrupted run); it will be predicted again", output)
                with open(output, "r+b") as handle:
                    handle.truncate(good_end)
                break
            lineno = raw[:pos].count(b"\n")
            raise CrabplusError(f"{output}: line {lineno} is not a prediction row; this is not a prediction file "
                                "crabplus wrote (choose another --output)")
        done.add(row["id"])
        good_end = pos
    return done


def _append(handle, row: dict[str, Any]) -> None:
    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def predict_many(items: Iterator[Item], predictor, output: Path, *, max_new_tokens: int | None,
                 free_form: bool = False, progress: bool = True) -> RunSummary:
    """Answer every item not already in ``output``; rows appended as they come; skips reported."""
    from crabplus.infer.batch import predict_batch
    from crabplus.tasks.parsers import parse_prediction
    from crabplus.utils.progress import progress_bar

    output.parent.mkdir(parents=True, exist_ok=True)
    done = read_done(output)
    summary = RunSummary(output=output, already=0)
    items = list(items)
    with open(output, "a", encoding="utf-8") as handle, progress_bar("predict", total=len(items)) as bar:
        for item in items:
            bar.update(1)
            if item.id in done:
                summary.already += 1
                continue
            if item.problem is not None:
                summary.skipped.append({"id": item.id, "source": item.source, "reason": item.problem})
                continue
            try:
                row = predict_batch(predictor, [item.record], item.root, max_new_tokens=max_new_tokens,
                                    record_routing=True)[0]
            except CrabplusError as exc:
                summary.skipped.append({"id": item.id, "source": item.source, "reason": str(exc)})
                log.warning("skipped %s: %s", item.id, exc)
                continue
            except (OSError, ValueError, RuntimeError) as exc:  # a library's failure on this input
                reason = f"{item.source}: {describe(exc)}"
                summary.skipped.append({"id": item.id, "source": item.source, "reason": reason})
                log.warning("skipped %s: %s", item.id, reason)
                continue
            options = item.record.answer.options
            pred = parse_prediction(item.record.dataset, row.predict, options=options)
            notes = row.notes + list(pred.notes)
            if free_form:
                notes.append("free-form question: the answer is the model's text; the task's format may not apply")
            parsed = {k: v for k, v in pred.to_json().items() if k != "notes"} | {"notes": notes}
            row = PredictionRow(item.id, item.record.dataset, row.predict, row.routing, prediction=parsed,
                                source=item.source)  # the notes travel inside ``prediction``
            _append(handle, row.to_json())
            done.add(item.id)
            summary.written += 1
    if summary.skipped:
        from crabplus.utils.io import atomic_write_jsonl

        summary.skip_report = atomic_write_jsonl(output.with_name(output.name + ".skipped.jsonl"), summary.skipped)
    return summary
