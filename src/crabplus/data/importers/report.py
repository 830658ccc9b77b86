"""The import report: per task and split, what was read, written and skipped, and why.

Why: the release is large and its media is placed by hand, so some records always fail (a video not
downloaded, a target that does not parse). Every one of them is counted under a reason, with a few
examples, so nothing is lost silently; ``read == written + sum(skipped)`` holds for every file and is
checked before the report is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crabplus.utils.io import atomic_write_json

# Skip reasons (the report's keys).
MISSING_MEDIA = "missing media"
UNPARSABLE = "unparsable target"
MISSING_FIELD = "missing field"
INVALID_FIELD = "invalid field"
UNREADABLE_MEDIA = "unreadable media"
EMPTY_MASK = "empty ground-truth mask"
NOT_AN_OBJECT = "not an object"
REASONS = (MISSING_MEDIA, UNPARSABLE, MISSING_FIELD, INVALID_FIELD, UNREADABLE_MEDIA, EMPTY_MASK, NOT_AN_OBJECT)

#: How many example record ids (with details) the report keeps per reason.
EXAMPLES = 5


@dataclass
class SplitReport:
    """One ``(task, split)`` file of the release (or a benchmark file standing in for it)."""

    task: str
    split: str
    source: str | None = None  # the file read, relative to the data root where possible
    status: str = "ok"  # ok | absent | not in release | error: ...
    output: str | None = None
    read: int = 0
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    kept_missing_media: int = 0  # written although a media file is missing (--no-skip-missing-media)
    ground_truth: dict[str, Any] = field(default_factory=dict)  # file, merged, changed, not_found

    def skip(self, reason: str, detail: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < EXAMPLES:
            ex.append(detail)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def check(self) -> None:
        """Every record read is either written or skipped under a reason."""
        if self.read != self.written + self.n_skipped:
            raise AssertionError(
                f"{self.task}/{self.split}: read {self.read} != written {self.written} + skipped {self.n_skipped}"
            )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "status": self.status,
            "output": self.output,
            "read": self.read,
            "written": self.written,
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_total": self.n_skipped,
            "examples": self.examples,
        }
        if self.kept_missing_media:
            out["kept_missing_media"] = self.kept_missing_media
        if self.ground_truth:
            out["ground_truth"] = self.ground_truth
        return out


@dataclass
class ImportReport:
    root: str
    out: str
    skip_missing_media: bool
    check_media: bool
    files: list[SplitReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, task: str, split: str) -> SplitReport:
        rep = SplitReport(task, split)
        self.files.append(rep)
        return rep

    def get(self, task: str, split: str) -> SplitReport | None:
        return next((f for f in self.files if f.task == task and f.split == split), None)

    def totals(self) -> dict[str, Any]:
        skipped: dict[str, int] = {}
        for f in self.files:
            for reason, n in f.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + n
        return {
            "read": sum(f.read for f in self.files),
            "written": sum(f.written for f in self.files),
            "skipped": dict(sorted(skipped.items())),
            "skipped_total": sum(skipped.values()),
            "kept_missing_media": sum(f.kept_missing_media for f in self.files),
            "errors": sum(1 for f in self.files if f.status.startswith("error")),
        }

    def to_json(self) -> dict[str, Any]:
        tasks: dict[str, dict[str, Any]] = {}
        for f in self.files:
            tasks.setdefault(f.task, {})[f.split] = f.to_json()
        return {
            "root": self.root,
            "out": self.out,
            "skip_missing_media": self.skip_missing_media,
            "check_media": self.check_media,
            "totals": self.totals(),
            "tasks": tasks,
            "notes": self.notes,
        }

    def write(self, path: str | Path) -> Path:
        for f in self.files:
            f.check()
        return atomic_write_json(path, self.to_json())

    def table(self):
        """A rich table: one row per task and split."""
        from rich.table import Table

        table = Table(title="AV-UIE v2 import", show_lines=False)
        for col in ("task", "split", "status", "read", "written", "skipped (reason: n)", "ground truth"):
            table.add_column(col, justify="right" if col in ("read", "written") else "left")
        for f in self.files:
            reasons = ", ".join(f"{r}: {n}" for r, n in sorted(f.skipped.items())) or "-"
            if f.kept_missing_media:
                reasons += f" (kept with missing media: {f.kept_missing_media})"
            gt = f.ground_truth
            names = " + ".join(Path(p).name for p in str(gt.get("file", "")).split(" + "))
            gt_text = (
                (
                    f"{names}: merged {gt.get('merged', 0)}, changed {gt.get('changed', 0)}, "
                    f"not found {gt.get('not_found', 0)}"
                )
                if gt
                else "-"
            )
            table.add_row(f.task, f.split, f.status, str(f.read), str(f.written), reasons, gt_text)
        t = self.totals()
        table.add_row(
            "total", "", f"{t['errors']} error(s)", str(t["read"]), str(t["written"]), str(t["skipped_total"]), ""
        )
        return table
