"""Data-parallel prediction: shards by rank, one part file per rank, and the merge into the prediction file.

Why parts: under ``torchrun --nproc_per_node=N -m crabplus predict ... --output P`` every rank appends its
rows to its own file next to ``P`` (``P.rank<r>-of-<N>.jsonl``), so no two processes write one file, and a
rank that dies (kill -9, a lost node) loses no other rank's rows. A rank's shard is every N-th batch of the
plan (:func:`crabplus.infer.batching.plan_batches`), which all ranks compute alike from the inputs, so a rerun
of the same command gives every rank the same shard and each one resumes from its own part.

The merge writes ``P`` in input order (``P.order.json`` holds the input ids, written when the run starts), one
row per id (the first found: ``P`` itself, then the parts by name), keeps rows of ids the inputs no longer
name (after the ordered ones), merges the skip reports into ``P.skipped.jsonl`` (less the ids answered since),
and then removes the parts. It runs at the end of every run (on rank 0 once all ranks are done; a single
process merges its own file) and alone on ``crabplus predict --merge P`` after a partial run.
Byte for byte, ``P`` is then the same whether one process or N wrote it: rows do not depend on their batch.

The process group is torch.distributed's, over gloo (it only carries a barrier and the ranks' counts): the
ranks meet once, at the end.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from crabplus.utils.errors import CrabplusError, UsageError
from crabplus.utils.io import atomic_write, atomic_write_json, atomic_write_jsonl

log = logging.getLogger(__name__)

#: How long the ranks wait for each other at the end: the slowest rank's share of the work.
END_TIMEOUT = timedelta(hours=48)


def part_path(output: Path, rank: int, world: int) -> Path:
    """Where rank ``rank`` of ``world`` writes its rows; with one process, ``output`` itself."""
    return output if world == 1 else output.with_name(f"{output.name}.rank{rank}-of-{world}.jsonl")


def skip_path(path: Path) -> Path:
    """The skip report beside a prediction or part file."""
    return path.with_name(path.name + ".skipped.jsonl")


def order_path(output: Path) -> Path:
    return output.with_name(output.name + ".order.json")


def part_files(output: Path) -> list[Path]:
    """The part files next to ``output``, of any world size, sorted by name."""
    pattern = re.compile(re.escape(output.name) + r"\.rank\d+-of-\d+\.jsonl")
    if not output.parent.is_dir():
        return []
    return sorted(p for p in output.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file())


def my_batches(batches: list[list[int]], rank: int, world: int) -> list[list[int]]:
    """Rank ``rank``'s shard: every ``world``-th batch from its own rank on (balanced: the plan's buckets are
    dealt out in turn)."""
    return batches[rank::world]


def read_rows(path: Path, *, repair: bool) -> dict[str, bytes]:
    """The rows of a prediction or part file, by id (the first row of an id), as their exact line bytes.

    A last line that is not a whole row is a write a kill cut short: ``repair`` (the file's own writer, before it
    appends) cuts it off with a warning; otherwise it is ignored (another process may still be writing it).
    Any other line that is not a row means this is not a file crabplus wrote: an error naming it."""
    if not path.is_file():
        return {}
    raw = path.read_bytes()
    rows: dict[str, bytes] = {}
    good_end = pos = 0
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
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("id"), str)
            or "predict" not in row
            or not line.endswith(b"\n")
        ):  # a record file has ids too, but no answer
            if pos == len(raw):  # the last line only: the run was killed while writing it
                if repair:
                    log.warning("%s: dropped a torn last line (an interrupted run); it will be predicted again", path)
                    with open(path, "r+b") as handle:
                        handle.truncate(good_end)
                break
            lineno = raw[:pos].count(b"\n")
            raise CrabplusError(
                f"{path}: line {lineno} is not a prediction row; this is not a prediction file "
                "crabplus wrote (choose another --output)"
            )
        rows.setdefault(row["id"], line)
        good_end = pos
    return rows


def done_ids(output: Path, own: Path) -> set[str]:
    """Ids already answered: in ``own`` (this process's file, repaired), ``output`` and every part file (read
    as they are: a part of another world size, left by an earlier run, counts too)."""
    done = set(read_rows(own, repair=True))
    for path in [output, *part_files(output)]:
        if path != own:
            done.update(read_rows(path, repair=False))
    return done


def append_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows in one write, flushed to disk (a batch is kept whole or cut at its last line)."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if not text:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_order(output: Path, ids: list[str]) -> None:
    atomic_write_json(order_path(output), {"ids": ids})


def read_order(output: Path) -> list[str]:
    path = order_path(output)
    if not path.is_file():
        raise UsageError(
            f"--merge {output}: no {path.name} beside it (it is written when `crabplus predict "
            f"--output {output}` starts); run that command again instead"
        )
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))["ids"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CrabplusError(f"{path}: not an input order crabplus wrote ({exc}); run the prediction again") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise CrabplusError(f"{path}: field 'ids' must be a list of strings; run the prediction again")
    return ids


def _read_skips(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn line of a killed run: that input is tried again anyway
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            out.append(entry)
    return out


def merge(output: Path, order: list[str] | None = None) -> dict[str, int]:
    """Merge the parts into ``output`` in input order (see the module notes); returns the counts written."""
    order = read_order(output) if order is None else order
    parts = part_files(output)
    lines: dict[str, bytes] = {}
    for path in [output, *parts]:
        for rid, line in read_rows(path, repair=False).items():
            lines.setdefault(rid, line)
    position: dict[str, int] = {}
    for i, rid in enumerate(order):
        position.setdefault(rid, i)
    ids = sorted(lines, key=lambda rid: position.get(rid, len(order)))  # stable: unknown ids keep their order
    data = b"".join(lines[rid] for rid in ids)
    atomic_write(output, lambda tmp: tmp.write_bytes(data))
    skips: dict[str, dict[str, Any]] = {}
    for path in [output, *parts]:
        for entry in _read_skips(skip_path(path)):
            if entry["id"] not in lines:
                skips[entry["id"]] = entry  # a later report (a part of this run) replaces an older one
    report = skip_path(output)
    if skips:
        atomic_write_jsonl(report, sorted(skips.values(), key=lambda e: position.get(e["id"], len(order))))
    else:
        report.unlink(missing_ok=True)
    for path in parts:  # only now: until P holds their rows, the parts are the only copy
        skip_path(path).unlink(missing_ok=True)
        path.unlink()
    return {
        "rows": len(ids),
        "skipped": len(skips),
        "missing": sum(1 for rid in position if rid not in lines and rid not in skips),
    }


class Ranks:
    """This process's place in a torchrun launch (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), and the gloo
    process group the ranks meet in at the end; one process without torchrun is rank 0 of 1 and needs none."""

    def __init__(self) -> None:
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self._owns_group = False

    @classmethod
    def single(cls) -> Ranks:
        """Rank 0 of 1, whatever the environment says (a caller that is not a torchrun launch of its own)."""
        ranks = cls()
        ranks.rank, ranks.world, ranks.local_rank = 0, 1, 0
        return ranks

    def __enter__(self) -> Ranks:
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group(backend="gloo", timeout=END_TIMEOUT)
                self._owns_group = True
        return self

    def __exit__(self, *exc) -> None:
        if self._owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (waits for all ranks: the end-of-run meeting)."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
