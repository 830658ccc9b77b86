"""AVE ground truth: ``Annotations.txt`` and the split files (benchmarks.md §1).

Format: one row per video, fields separated by ``&``::

    Category&VideoID&Quality&StartTime&EndTime
    Church bell&MH3m4AwEcRY&good&6&8

The repository copy has no header, the dataset zip's copy has one (both are read). Times are whole
seconds in [0, 10]; segment ``k`` (covering [k, k+1)) is the event iff ``start <= k < end``, all other
segments are background. ``trainSet.txt`` / ``valSet.txt`` / ``testSet.txt`` have the same format and
select a split (the h5 order files need h5py, which this project does not depend on; the text split
files carry the same videos).

The class index is the order of first appearance in ``Annotations.txt`` (28 classes) plus
``background`` = 28, which the official metric counts like any other class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crabplus.schema.records import Event, RecordError

#: Number of one-second segments of an AVE video.
AVE_SEGMENTS = 10
BACKGROUND = "background"
_HEADER = ("category", "videoid", "quality", "starttime", "endtime")


@dataclass(frozen=True)
class AveAnnotation:
    """One AVE video: its event class, YouTube id, quality tag and the event's [start, end) seconds."""

    category: str
    video_id: str
    quality: str
    start: int
    end: int

    def event(self) -> Event:
        return Event(self.category, float(self.start), float(self.end))

    def segment_labels(self) -> list[str]:
        """The ten per-segment labels: the category where ``start <= k < end``, else background."""
        return [self.category if self.start <= k < self.end else BACKGROUND for k in range(AVE_SEGMENTS)]


def read_ave_annotations(path: str | Path) -> list[AveAnnotation]:
    """Rows of an AVE annotation or split file, in file order; a header line is recognised and
    skipped. A bad row is an error naming the file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise RecordError("no such AVE annotation file", file=str(path))
    out: list[AveAnnotation] = []
    with open(path, encoding="utf-8-sig") as handle:
        for lineno, text in enumerate(handle, start=1):
            text = text.strip()
            if not text:
                continue
            parts = [p.strip() for p in text.split("&")]
            if lineno == 1 and tuple(p.lower().replace(" ", "") for p in parts) == _HEADER:
                continue
            if len(parts) != 5:
                raise RecordError(
                    f"expected 5 '&'-separated fields (Category&VideoID&Quality&StartTime&EndTime), "
                    f"got {len(parts)}: {text!r}",
                    file=str(path),
                    line=lineno,
                )
            category, vid, quality, start_s, end_s = parts
            try:
                start, end = int(start_s), int(end_s)
            except ValueError:
                raise RecordError(
                    f"start/end must be whole seconds, got {start_s!r}/{end_s!r}",
                    file=str(path),
                    line=lineno,
                    field="StartTime/EndTime",
                ) from None
            if not 0 <= start < end <= AVE_SEGMENTS:
                raise RecordError(
                    f"need 0 <= start < end <= {AVE_SEGMENTS}, got [{start}, {end}]",
                    file=str(path),
                    line=lineno,
                    field="StartTime/EndTime",
                )
            if not category or not vid:
                raise RecordError("empty category or video id", file=str(path), line=lineno, field="Category")
            out.append(AveAnnotation(category, vid, quality, start, end))
    return out


def ave_classes(annotations: list[AveAnnotation]) -> list[str]:
    """The AVE class list: categories in order of first appearance, then ``background`` last
    (29 entries on the full ``Annotations.txt``)."""
    seen: dict[str, None] = {}
    for ann in annotations:
        seen.setdefault(ann.category, None)
    return [*seen, BACKGROUND]


def ave_index(annotations: list[AveAnnotation], *, file: str | None = None) -> dict[str, AveAnnotation]:
    """``video_id -> annotation``; a video listed twice with different annotations is an error."""
    out: dict[str, AveAnnotation] = {}
    for ann in annotations:
        if ann.video_id in out and out[ann.video_id] != ann:
            raise RecordError(f"video {ann.video_id!r} is annotated twice differently", file=file)
        out[ann.video_id] = ann
    return out
