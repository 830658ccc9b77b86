"""The unified record: one JSON Lines schema for every sample of every dataset.

A record says which dataset and task type it belongs to, where its media is (relative to a data
root), the instruction, an optional reasoning chain, the structured answer and the target text
(reasoning + tagged answer, what the model is trained to write). Loading validates every record;
an error names the file, the line, the record id and the field.

Coordinates (``box``, ``points``) are integers in 224-pixel space whatever the image size, as in the
release. Times (``events``) are seconds from the clip start; ``end`` is exclusive.

Example (AVE-like)::

    {"id": "ave-test-00003", "dataset": "ave", "task": "localization", "split": "test",
     "media": {"video": "ave/test/00003.mp4"},
     "instruction": "Please describe the events and time range that occurred in the video.",
     "reasoning": "A red drum is seen and heard from second 2 to second 6.",
     "answer": {"events": [{"label": "red drum", "start": 2, "end": 6}]},
     "target": "A red drum ... <event>red drum</event><range>2,6</range>", "meta": {}}
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from crabplus.schema.geometry import SPACE, box_inside, point_inside
from crabplus.schema.perception import PERCEPTION_SPECS, PERCEPTION_TASK
from crabplus.schema.registry import DATASETS, TASK_TYPES
from crabplus.utils.errors import CrabplusError

SPLITS = ("train", "test", "val")
T = TypeVar("T")


class RecordError(CrabplusError, ValueError):
    """A record is invalid. The message names file, line, record id and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ):
        self.file, self.line, self.record_id, self.field = file, line, record_id, field
        where = []
        if file is not None:
            where.append(f"{file}:{line}" if line is not None else str(file))
        if record_id is not None:
            where.append(f"record {record_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass
class Event:
    """A labelled time range in seconds, ``start`` inclusive and ``end`` exclusive."""

    label: str
    start: float
    end: float


@dataclass
class Media:
    """Where a sample's media is, relative to the data root.

    ``audio`` None means the audio is the video's own track. ``image`` is a still frame file; an
    image task may instead give ``video`` + ``frame_second`` (the frame at that second).
    ``audio_window_index`` is the fifth/tenth of the clip that one-fifth/one-tenth windows keep.
    ``video2``/``audio2`` are the second candidates of the matching tasks (a2v / v2a).
    """

    video: str | None = None
    audio: str | None = None
    image: str | None = None
    video2: str | None = None
    audio2: str | None = None
    frame_second: float | None = None
    audio_window_index: int | None = None

    def paths(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if k in MEDIA_PATH_FIELDS and v is not None}


MEDIA_PATH_FIELDS = ("video", "audio", "image", "video2", "audio2")


@dataclass
class Answer:
    """The structured answer; which fields a dataset fills is in its ``DatasetSpec.answer_fields``.

    - ``label``: class name (action, emotion, sounding-object category).
    - ``choice``: for matching, the candidate number (1 or 2); for multiple choice, the 0-based
      index into ``options``.
    - ``text``: a free answer word/phrase (MUSIC-AVQA) or the caption; ``references`` more captions.
    - ``events``: time ranges (AVE, UnAV); ``audio_events`` / ``visual_events`` per modality (AVVP).
    - ``box`` [x1, y1, x2, y2] and ``points`` [[x, y], ...] in 224-pixel space; ``mask`` a ground
      truth mask PNG (relative to the data root); ``exists`` for Ref-AVS (is the object there).
    """

    label: str | None = None
    choice: int | None = None
    options: list[str] | None = None
    text: str | None = None
    references: list[str] | None = None
    events: list[Event] | None = None
    audio_events: list[Event] | None = None
    visual_events: list[Event] | None = None
    box: list[int] | None = None
    points: list[list[int]] | None = None
    exists: bool | None = None
    mask: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Record:
    id: str
    dataset: str
    task: str
    split: str
    media: Media
    instruction: str
    answer: Answer
    target: str
    reasoning: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset,
            "task": self.task,
            "split": self.split,
            "media": {k: v for k, v in asdict(self.media).items() if v is not None},
            "instruction": self.instruction,
            "reasoning": self.reasoning,
            "answer": self.answer.to_json(),
            "target": self.target,
            "meta": self.meta,
        }


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "num":  # finite: JSON text may hold NaN or Infinity, which no time or coordinate can be
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "bool":
        return isinstance(value, bool)
    raise AssertionError(kind)


def _require(obj: dict, name: str, kind: str, where: dict, optional: bool = False, prefix: str = "") -> Any:
    """``obj[name]`` checked to be of ``kind``; the error names the field as ``prefix + name``."""
    if name not in obj or obj[name] is None:
        if optional:
            return None
        raise RecordError("missing required field", field=prefix + name, **where)
    value = obj[name]
    if not _type_ok(value, kind):
        what = "a finite number" if kind == "num" else kind
        raise RecordError(f"expected {what}, got {type(value).__name__} {value!r}", field=prefix + name, **where)
    return value


def _events(value: Any, name: str, where: dict) -> list[Event]:
    if not isinstance(value, list):
        raise RecordError(f"expected a list of events, got {value!r}", field=name, **where)
    out = []
    for i, ev in enumerate(value):
        key = f"{name}[{i}]"
        if not isinstance(ev, dict):
            raise RecordError(f"expected an event object, got {ev!r}", field=key, **where)
        unknown = set(ev) - {"label", "start", "end"}
        if unknown:
            raise RecordError(f"unknown keys {sorted(unknown)}", field=key, **where)
        label = _require(ev, "label", "str", where, prefix=f"{key}.")
        start = _require(ev, "start", "num", where, prefix=f"{key}.")
        end = _require(ev, "end", "num", where, prefix=f"{key}.")
        if not 0 <= start < end:
            raise RecordError(f"need 0 <= start < end, got [{start}, {end}]", field=key, **where)
        out.append(Event(label, float(start), float(end)))
    return out


def _answer(obj: Any, where: dict) -> Answer:
    if not isinstance(obj, dict):
        raise RecordError(f"expected an object, got {obj!r}", field="answer", **where)
    known = {f.name for f in fields(Answer)}
    unknown = set(obj) - known
    if unknown:
        raise RecordError(f"unknown keys {sorted(unknown)}", field="answer", **where)
    ans = Answer()
    for name, kind in (("label", "str"), ("text", "str"), ("mask", "str"), ("choice", "int"), ("exists", "bool")):
        setattr(ans, name, _require(obj, name, kind, where, optional=True, prefix="answer."))
    for name in ("options", "references"):
        value = obj.get(name)
        if value is not None:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise RecordError(f"expected a list of strings, got {value!r}", field=f"answer.{name}", **where)
            setattr(ans, name, list(value))
    for name in ("events", "audio_events", "visual_events"):
        if obj.get(name) is not None:
            setattr(ans, name, _events(obj[name], f"answer.{name}", where))
    if obj.get("box") is not None:
        box = obj["box"]
        if not isinstance(box, list) or len(box) != 4 or not all(_type_ok(v, "int") for v in box):
            raise RecordError(f"expected [x1, y1, x2, y2] integers, got {box!r}", field="answer.box", **where)
        if not box_inside(box):
            raise RecordError(
                f"need 0 <= x1 < x2 <= {SPACE} and 0 <= y1 < y2 <= {SPACE}, got {box}", field="answer.box", **where
            )
        ans.box = list(box)
    if obj.get("points") is not None:
        pts = obj["points"]
        ok = isinstance(pts, list) and all(
            isinstance(p, list) and len(p) == 2 and all(_type_ok(v, "int") for v in p) and point_inside(*p) for p in pts
        )
        if not ok:
            raise RecordError(
                f"expected [[x, y], ...] integers in [0, {SPACE}), got {pts!r}", field="answer.points", **where
            )
        ans.points = [list(p) for p in pts]
    return ans


def check_media_path(rel: str, root: Path | None, where: dict, name: str) -> None:
    """A media path must be relative and stay inside the data root (no ``..`` escape)."""
    if os.path.isabs(rel):
        raise RecordError(f"absolute media path {rel!r}: paths are relative to the data root", field=name, **where)
    norm = os.path.normpath(rel)
    if norm == ".." or norm.startswith(".." + os.sep) or norm == ".":
        raise RecordError(f"media path {rel!r} escapes the data root", field=name, **where)


def open_object(obj: Any, what: str, known: set[str] | tuple[str, ...], where: dict[str, Any]) -> str:
    """The first checks of one line of a JSON Lines file of ``what`` (records, prediction rows): a JSON object
    with a non-empty string ``id`` and only ``known`` keys. Returns the id, also set as ``where["record_id"]``
    so every later error names it."""
    if not isinstance(obj, dict):
        raise RecordError(f"a {what} must be a JSON object, got {type(obj).__name__}", **where)
    rid = obj.get("id")
    if not isinstance(rid, str) or not rid:
        raise RecordError("missing or empty id", field="id", **where)
    where["record_id"] = rid
    unknown = set(obj) - set(known)
    if unknown:
        raise RecordError(f"unknown keys {sorted(unknown)}", field=sorted(unknown)[0], **where)
    return rid


def record_from_json(obj: Any, *, file: str | None = None, line: int | None = None) -> Record:
    """Validate one decoded JSON object and build a :class:`Record`; raise :class:`RecordError`."""
    where: dict[str, Any] = {"file": file, "line": line}
    rid = open_object(obj, "record", {f.name for f in fields(Record)}, where)
    dataset = _require(obj, "dataset", "str", where)
    if dataset not in DATASETS and dataset not in PERCEPTION_SPECS:
        raise RecordError(f"unknown dataset {dataset!r} (known: {', '.join(DATASETS)})", field="dataset", **where)
    spec = DATASETS.get(dataset) or PERCEPTION_SPECS[dataset]
    task = _require(obj, "task", "str", where)
    if task not in TASK_TYPES and task != PERCEPTION_TASK:
        raise RecordError(f"unknown task {task!r} (known: {', '.join(TASK_TYPES)})", field="task", **where)
    if task != spec.task:
        raise RecordError(f"dataset {dataset!r} is a {spec.task!r} task, not {task!r}", field="task", **where)
    split = _require(obj, "split", "str", where)
    if split not in SPLITS:
        raise RecordError(f"unknown split {split!r} (known: {', '.join(SPLITS)})", field="split", **where)
    instruction = _require(obj, "instruction", "str", where)
    target = _require(obj, "target", "str", where)
    reasoning = _require(obj, "reasoning", "str", where, optional=True)

    media_obj = obj.get("media")
    if not isinstance(media_obj, dict):
        raise RecordError("missing or invalid media object", field="media", **where)
    unknown = set(media_obj) - {f.name for f in fields(Media)}
    if unknown:
        raise RecordError(f"unknown keys {sorted(unknown)}", field="media", **where)
    media = Media()
    for name in MEDIA_PATH_FIELDS:
        value = _require(media_obj, name, "str", where, optional=True, prefix="media.")
        if value is not None:
            check_media_path(value, None, where, f"media.{name}")
        setattr(media, name, value)
    if media_obj.get("frame_second") is not None:
        media.frame_second = float(_require(media_obj, "frame_second", "num", where, prefix="media."))
    media.audio_window_index = _require(media_obj, "audio_window_index", "int", where, optional=True, prefix="media.")
    _check_media_shape(spec, media, where)

    answer = _answer(obj.get("answer"), where)
    for name in spec.answer_fields:
        if getattr(answer, name) is None:
            raise RecordError(f"dataset {dataset!r} needs this answer field", field=f"answer.{name}", **where)
    if answer.mask is not None:
        check_media_path(answer.mask, None, where, "answer.mask")
    if spec.prompt_unless_mask and answer.mask is None and (answer.box is None or answer.points is None):
        missing = "answer.box" if answer.box is None else "answer.points"
        raise RecordError(f"dataset {dataset!r} needs box and points (or a ground-truth mask)", field=missing, **where)
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise RecordError(f"expected an object, got {meta!r}", field="meta", **where)
    _check_answer_possible(spec, answer, meta, where)
    return Record(rid, dataset, task, split, media, instruction, answer, target, reasoning, meta)


#: Candidates of the matching tasks (the answer is "the first" or "the second").
MATCHING_CHOICES = (1, 2)


def _check_answer_possible(spec, answer: Answer, meta: dict, where: dict) -> None:
    """Refuse answers no prediction could match: a matching choice other than 1 or 2, a multiple-choice
    index outside its options, an event ending after the clip (``meta.duration``, when the record gives it)."""
    if answer.choice is not None:
        if spec.task == "matching" and answer.choice not in MATCHING_CHOICES:
            raise RecordError(
                f"{spec.name} chooses candidate 1 or 2, got {answer.choice}", field="answer.choice", **where
            )
        if answer.options is not None and not 0 <= answer.choice < len(answer.options):
            raise RecordError(
                f"choice {answer.choice} is not an index of the {len(answer.options)} options "
                f"(0..{len(answer.options) - 1})",
                field="answer.choice",
                **where,
            )
    duration = meta.get("duration")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        if not math.isfinite(duration) or duration <= 0:
            raise RecordError(f"expected a duration > 0 in seconds, got {duration!r}", field="meta.duration", **where)
        for name in ("events", "audio_events", "visual_events"):
            for i, ev in enumerate(getattr(answer, name) or []):
                if ev.end > duration + 1e-6:
                    raise RecordError(
                        f"the event ends at {ev.end} s, after the clip's end ({duration} s, meta.duration)",
                        field=f"answer.{name}[{i}]",
                        **where,
                    )


def _check_media_shape(spec, media: Media, where: dict) -> None:
    if spec.visual == "image":
        if media.image is None and (media.video is None or media.frame_second is None):
            raise RecordError(
                "an image task needs media.image, or media.video with media.frame_second", field="media.image", **where
            )
        if media.image is not None and media.audio is None and media.video is None:
            raise RecordError(
                "an image task needs media.audio (or a video whose track is used)", field="media.audio", **where
            )
    elif media.video is None:
        raise RecordError("a video task needs media.video", field="media.video", **where)
    if spec.visual == "two_videos" and media.video2 is None:
        raise RecordError(f"{spec.name} needs the second candidate video", field="media.video2", **where)
    if spec.two_audios and (media.audio is None or media.audio2 is None):
        raise RecordError(f"{spec.name} needs both candidate audios", field="media.audio2", **where)
    if spec.audio_window in ("one_fifth", "one_tenth") and media.audio_window_index is None:
        raise RecordError(f"{spec.name} needs the audio window index", field="media.audio_window_index", **where)


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def iter_record_files(paths: list[str | Path]) -> list[Path]:
    """Expand folders into the ``*.jsonl`` files they hold (sorted); files are kept as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.rglob("*.jsonl")))
        elif p.is_file():
            out.append(p)
        else:
            raise RecordError("no such file or folder", file=str(p))
    return out


def read_jsonl(
    path: str | Path, build: Callable[..., T], *, kind: str = "file", errors: list[RecordError] | None = None
) -> list[T]:
    """Rows of a JSON Lines file, each built and validated by ``build(obj, file=, line=)``; ids unique.

    With ``errors=None`` the first invalid row raises; with a list, every invalid row is appended to it
    and skipped. Shared by record files and prediction files.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"no such {kind}", file=str(path))
    rows: list[T] = []
    seen: dict[str, int] = {}
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise RecordError(
                        f"not UTF-8 text (byte {raw[exc.start : exc.start + 1]!r} at column "
                        f"{exc.start + 1}); save the file as UTF-8",
                        file=str(path),
                        line=lineno,
                    ) from None
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise RecordError(
                        f"not valid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=lineno
                    ) from None
                except RecursionError:
                    raise RecordError("JSON nested too deeply to be a record", file=str(path), line=lineno) from None
                row = build(obj, file=str(path), line=lineno)
                if row.id in seen:
                    raise RecordError(
                        f"duplicate id (first on line {seen[row.id]})",
                        file=str(path),
                        line=lineno,
                        record_id=row.id,
                        field="id",
                    )
                seen[row.id] = lineno
                rows.append(row)
            except RecordError as exc:
                if errors is None:
                    raise
                errors.append(exc)
    return rows


def load_records(path: str | Path, *, errors: list[RecordError] | None = None) -> list[Record]:
    """Read and validate a JSON Lines record file.

    With ``errors=None`` the first invalid record raises; with a list, every invalid record is
    appended to it and skipped (``crabplus data validate`` reports them all).
    """
    return read_jsonl(path, record_from_json, errors=errors)


def write_records(path: str | Path, records: list[Record]) -> Path:
    from crabplus.utils.io import atomic_write_jsonl

    return atomic_write_jsonl(path, [r.to_json() for r in records])


#: The files that mark a data root: an AVSynth world's manifest (``crabplus data synth``) and a perception
#: corpus's summary (``crabplus.synth.pretrain``); the media paths of the records below either are relative to it.
ROOT_MARKERS = ("manifest.json", "corpus.json")


def default_root(record_file: str | Path) -> Path:
    """The data root of a record file when none is given (training's ``data.root``, ``crabplus predict`` and
    ``eval``'s ``--root``): the nearest folder at or above the file's folder holding ``manifest.json`` (an
    AVSynth world) or ``corpus.json`` (a perception corpus), whose media paths are relative to it, else the file's
    own folder. The one rule for every command; it lets one run train on records of several such folders."""
    folder = Path(record_file).resolve().parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).is_file() for marker in ROOT_MARKERS):
            return candidate
    return folder


def resolve_media(root: str | Path, rel: str) -> Path:
    """The absolute path of media ``rel`` under ``root``; a path escaping ``root`` is refused."""
    check_media_path(rel, None, {}, "media")
    return Path(root) / os.path.normpath(rel)
