"""AVVP / LLP ground truth: the evaluation CSVs (benchmarks.md §2).

``AVVP_eval_audio.csv`` and ``AVVP_eval_visual.csv`` are tab-separated with a header
``filename	onset	offset	event_labels``, one event per row::

    KSRjje7GH44_60_70	8	10	Blender

Onset/offset are integer seconds in [0, 10], offset exclusive. They cover the val and test videos; a
video may have audio rows and no visual rows (121 test videos), which means "no visual event", not
"unknown". The weak-label files (``AVVP_train.csv`` etc., ``filename	event_labels`` with
comma-separated classes) are read by :func:`read_avvp_weak_csv`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from crabplus.schema.records import Event, RecordError

#: The 25 LLP classes in the official index order.
AVVP_CLASSES: tuple[str, ...] = (
    "Speech",
    "Car",
    "Cheering",
    "Dog",
    "Cat",
    "Frying_(food)",
    "Basketball_bounce",
    "Fire_alarm",
    "Chainsaw",
    "Cello",
    "Banjo",
    "Singing",
    "Chicken_rooster",
    "Violin_fiddle",
    "Vacuum_cleaner",
    "Baby_laughter",
    "Accordion",
    "Lawn_mower",
    "Motorcycle",
    "Helicopter",
    "Acoustic_guitar",
    "Telephone_bell_ringing",
    "Baby_cry_infant_cry",
    "Blender",
    "Clapping",
)
AVVP_SEGMENTS = 10


@dataclass
class AvvpVideo:
    """One evaluated video's events per modality (each sorted by onset, then label)."""

    audio: list[Event] = field(default_factory=list)
    visual: list[Event] = field(default_factory=list)


def _rows(path: Path, columns: tuple[str, ...]):
    if not path.is_file():
        raise RecordError("no such AVVP file", file=str(path))
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != columns:
            raise RecordError(
                f"expected a tab-separated header {'<TAB>'.join(columns)!r}, got {header!r}", file=str(path), line=1
            )
        for lineno, row in enumerate(reader, start=2):
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) != len(columns):
                raise RecordError(
                    f"expected {len(columns)} tab-separated fields, got {len(row)}: {row!r}",
                    file=str(path),
                    line=lineno,
                )
            yield lineno, [c.strip() for c in row]


def read_avvp_eval_csv(path: str | Path) -> dict[str, list[Event]]:
    """``filename -> events`` of one evaluation CSV (audio or visual)."""
    path = Path(path)
    out: dict[str, list[Event]] = {}
    for lineno, (name, onset_s, offset_s, label) in _rows(path, ("filename", "onset", "offset", "event_labels")):
        try:
            onset, offset = int(onset_s), int(offset_s)
        except ValueError:
            raise RecordError(
                f"onset/offset must be whole seconds, got {onset_s!r}/{offset_s!r}",
                file=str(path),
                line=lineno,
                field="onset/offset",
            ) from None
        if not 0 <= onset < offset <= AVVP_SEGMENTS:
            raise RecordError(
                f"need 0 <= onset < offset <= {AVVP_SEGMENTS}, got [{onset}, {offset}]",
                file=str(path),
                line=lineno,
                field="onset/offset",
            )
        if not label:
            raise RecordError("empty event label", file=str(path), line=lineno, field="event_labels")
        out.setdefault(name, []).append(Event(label, float(onset), float(offset)))
    for events in out.values():
        events.sort(key=lambda e: (e.start, e.label, e.end))
    return out


def read_avvp_eval(audio_csv: str | Path, visual_csv: str | Path) -> dict[str, AvvpVideo]:
    """Both evaluation CSVs joined per video: every video in either file, with an empty list for a
    modality that has no rows."""
    audio, visual = read_avvp_eval_csv(audio_csv), read_avvp_eval_csv(visual_csv)
    return {name: AvvpVideo(audio.get(name, []), visual.get(name, [])) for name in sorted(set(audio) | set(visual))}


def read_avvp_weak_csv(path: str | Path) -> dict[str, list[str]]:
    """``filename -> video-level labels`` of a weak-label file (``filename	event_labels``)."""
    return {
        name: [c.strip() for c in labels.split(",") if c.strip()]
        for _, (name, labels) in _rows(Path(path), ("filename", "event_labels"))
    }


def event_matrix(events: list[Event], classes: tuple[str, ...] = AVVP_CLASSES) -> list[list[int]]:
    """The [25 classes x 10 segments] 0/1 matrix of ``events`` (offset exclusive), as the metric uses."""
    index = {c: i for i, c in enumerate(classes)}
    out = [[0] * AVVP_SEGMENTS for _ in classes]
    for e in events:
        if e.label not in index:
            raise KeyError(f"unknown AVVP class {e.label!r}")
        for t in range(int(e.start), int(e.end)):
            out[index[e.label]][t] = 1
    return out
