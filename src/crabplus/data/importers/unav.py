"""UnAV-100 ground truth: ``unav100_annotations.json``, ActivityNet style (benchmarks.md §7)::

    {"database": {"<vid>": {"subset": "train" | "validation" | "test", "duration": 30.2,
                            "annotations": [{"segment": [1.5, 6.0], "label": "dog barking",
                                             "label_id": 12}, ...]}}}

Times are float seconds; events may overlap. As the official evaluation does when it loads the
ground truth, annotations of one video with the same label whose start and end both agree within
1e-3 s are collapsed into one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crabplus.data.importers.jsonfile import read_json
from crabplus.schema.records import Event, RecordError

#: Two annotations closer than this (seconds) at both ends, with the same label, are one.
DUPLICATE_TOL = 1e-3


@dataclass
class UnavVideo:
    subset: str
    duration: float | None
    events: list[Event]
    duplicates_removed: int = 0


def dedupe_events(events: list[Event], tol: float = DUPLICATE_TOL) -> list[Event]:
    """``events`` without the duplicates described in the module docstring (first one kept)."""
    kept: list[Event] = []
    for e in events:
        if not any(k.label == e.label and abs(k.start - e.start) < tol and abs(k.end - e.end) < tol for k in kept):
            kept.append(e)
    return kept


def read_unav(path: str | Path, subset: str | None = None) -> dict[str, UnavVideo]:
    """``vid -> video`` of an UnAV-100 annotation file, optionally only one ``subset``."""
    path = Path(path)
    data = read_json(path, "UnAV-100 annotation file")
    database = data.get("database") if isinstance(data, dict) else None
    if not isinstance(database, dict):
        raise RecordError("expected an object with a 'database' object", file=str(path), field="database")
    out: dict[str, UnavVideo] = {}
    for vid, entry in database.items():
        where = {"file": str(path), "record_id": vid}
        if not isinstance(entry, dict):
            raise RecordError(f"expected an object, got {entry!r}", **where)
        if subset is not None and entry.get("subset") != subset:
            continue
        events = []
        for i, ann in enumerate(entry.get("annotations") or []):
            seg = ann.get("segment") if isinstance(ann, dict) else None
            label = ann.get("label") if isinstance(ann, dict) else None
            if (
                not isinstance(seg, list)
                or len(seg) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in seg)
            ):
                raise RecordError(
                    f"expected segment [start, end] in seconds, got {seg!r}", field=f"annotations[{i}].segment", **where
                )
            if not isinstance(label, str) or not label:
                raise RecordError(f"expected a label string, got {label!r}", field=f"annotations[{i}].label", **where)
            start, end = float(seg[0]), float(seg[1])
            if not 0 <= start < end:
                raise RecordError(f"need 0 <= start < end, got {seg}", field=f"annotations[{i}].segment", **where)
            events.append(Event(label, start, end))
        kept = dedupe_events(events)
        duration = entry.get("duration")
        out[vid] = UnavVideo(
            str(entry.get("subset")), float(duration) if duration is not None else None, kept, len(events) - len(kept)
        )
    return out
