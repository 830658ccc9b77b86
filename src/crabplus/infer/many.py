"""Prediction over many inputs from the command line: a record file, a folder or a glob of media files.

Why: a user who trained with ``crabplus train`` must get from a checkpoint to ``crabplus eval`` with
the CLI alone, and a researcher through tens of thousands of clips. Inputs are answered in batches
(``--batch-size``, bucketed by task and prompt length: :mod:`crabplus.infer.batching`), and each batch's rows
go to the prediction JSON Lines file as soon as it is answered (appended and flushed), so an interrupted run
loses nothing: a re-run skips the ids already written (a torn last line is dropped first). An input that
cannot be read (a bad record, unreadable media) is a counted skip with its reason, written to
``<output>.skipped.jsonl``; the rest of its batch and the other inputs go on. At the end the file is
rewritten in input order. Under torchrun each rank answers its shard into a part file of its own, merged
into the output at the end (:mod:`crabplus.infer.shards`).

Rows (:class:`crabplus.schema.rows.PredictionRow`): ``id``, ``dataset``, ``predict`` — the generated
text (what ``crabplus eval`` scores), ``prediction`` the structured answer parsed from it,
``routing`` the I-LoRA router summary (mean weight of each head per layer over the prompt), and
``source`` the record file or media file the row came from.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crabplus.schema.records import Record, RecordError, load_records
from crabplus.schema.rows import PredictionRow
from crabplus.utils.errors import CrabplusError, UsageError

log = logging.getLogger(__name__)

RECORD_SUFFIXES = (".jsonl",)
MEDIA_SUFFIXES = (
    ".mp4",
    ".mkv",
    ".webm",
    ".mov",
    ".avi",
    ".m4v",
    ".wav",
    ".mp3",
    ".flac",
    ".ogg",
    ".m4a",
    ".aac",
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".webp",
)


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
    seconds: float = 0.0  # answering and merging, the model's loading left out (every rank's, to the merge)

    def to_json(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "written": self.written,
            "already_done": self.already,
            "skipped": len(self.skipped),
            "skip_report": str(self.skip_report) if self.skip_report else None,
            "seconds": round(self.seconds, 3),
        }


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
    from crabplus.infer.shards import read_rows

    return set(read_rows(output, repair=True))


def finish_row(item: Item, row: PredictionRow, free_form: bool) -> PredictionRow:
    """The row as the prediction file holds it: the structured answer parsed from the text, the notes (media
    completed, parser's, free-form question) inside it, and the input it came from."""
    from crabplus.tasks.parsers import parse_prediction

    pred = parse_prediction(item.record.dataset, row.predict, options=item.record.answer.options)
    notes = row.notes + list(pred.notes)
    if free_form:
        notes.append("free-form question: the answer is the model's text; the task's format may not apply")
    parsed = {k: v for k, v in pred.to_json().items() if k != "notes"} | {"notes": notes}
    return PredictionRow(
        item.id, item.record.dataset, row.predict, row.routing, prediction=parsed, source=item.source
    )  # the notes travel inside ``prediction``


def predict_many(
    items: Iterator[Item],
    predictor,
    output: Path,
    *,
    max_new_tokens: int | None,
    free_form: bool = False,
    progress: bool = True,
    batch_size: int = 1,
    compiled: bool = False,
    ranks=None,
) -> RunSummary:
    """Answer every item not already answered, in batches of ``batch_size`` (:mod:`crabplus.infer.batching`);
    each batch's rows are appended as it finishes, skips counted and reported, and ``output`` ends in input
    order. ``ranks`` (:class:`crabplus.infer.shards.Ranks`, entered): under torchrun, this rank answers its
    shard into its part file and rank 0 merges them all once every rank is done (:mod:`crabplus.infer.shards`)."""
    from crabplus.infer import shards
    from crabplus.infer.batching import answer_batch, plan_batches, prompt_key
    from crabplus.utils.io import atomic_write_jsonl
    from crabplus.utils.progress import progress_bar

    ranks = ranks or shards.Ranks.single()
    start = time.perf_counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    items = list(items)
    order = [item.id for item in items]
    own = shards.part_path(output, ranks.rank, ranks.world)
    if ranks.is_main:
        shards.write_order(output, order)
    done = shards.done_ids(output, own)
    summary = RunSummary(output=output)
    keys = [None if item.problem is not None else prompt_key(item.record, predictor.tokenizer) for item in items]
    batches = shards.my_batches(plan_batches(keys, batch_size), ranks.rank, ranks.world)
    problems = [i for i, item in enumerate(items) if item.problem is not None and i % ranks.world == ranks.rank]
    total = len(problems) + sum(len(b) for b in batches)
    bar_cm = progress_bar("predict", total=total) if progress and ranks.is_main else contextlib.nullcontext()
    with bar_cm as bar:
        for i in problems:
            if items[i].id in done:
                summary.already += 1
            else:
                summary.skipped.append({"id": items[i].id, "source": items[i].source, "reason": items[i].problem})
        for batch in batches:
            pending, ids = [], set()
            for i in batch:
                if items[i].id in done or items[i].id in ids:
                    summary.already += 1
                else:
                    pending.append(i)
                    ids.add(items[i].id)
            if pending:
                result = answer_batch(
                    predictor,
                    [(i, items[i].record, items[i].root, items[i].source) for i in pending],
                    max_new_tokens=max_new_tokens,
                    compiled=compiled,
                )
                rows = [finish_row(items[i], row, free_form) for i, row in result.rows]
                shards.append_rows(own, [row.to_json() for row in rows])
                done.update(row.id for row in rows)
                summary.written += len(rows)
                for i, reason in result.skipped:
                    summary.skipped.append({"id": items[i].id, "source": items[i].source, "reason": reason})
                    log.warning("skipped %s: %s", items[i].id, reason)
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.update(len(problems))
    own_skips = shards.skip_path(own)  # this run's skips (a rerun that fixed them leaves no stale report)
    if summary.skipped:
        atomic_write_jsonl(own_skips, summary.skipped)
    else:
        own_skips.unlink(missing_ok=True)
    every = ranks.gather((summary.written, summary.already, summary.skipped))  # waits for every rank
    if ranks.is_main:
        shards.merge(output, order)
    ranks.barrier()
    summary.written, summary.already = sum(e[0] for e in every), sum(e[1] for e in every)
    position = {rid: i for i, rid in reversed(list(enumerate(order)))}
    summary.skipped = sorted((s for e in every for s in e[2]), key=lambda s: position.get(s["id"], len(order)))
    if summary.skipped:
        summary.skip_report = shards.skip_path(output)
    summary.seconds = time.perf_counter() - start
    return summary
