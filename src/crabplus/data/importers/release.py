"""What the AV-UIE v2 release's JSON files hold, task by task (docs/data.md).

Every file is ``<ROOT>/AVUIE_2/<task>/<split>.json``: one JSON list of flat objects. The facts the
importer needs, kept in one place:

- the train target field: ``label``, except ``new_label`` (ucf), ``label_content`` (ave, unav, avvp,
  s4, ms3, arig, avcap) and ``output`` (ref_avs); test records have no target;
- the class field of the classification tasks: ``action`` (ks), ``label`` (ucf, lower-cased by the
  release), ``Emotion`` (meld, capital E), ``discrete`` (mer24), ``emotion`` (cremad, mafw, dfew);
- media: video tasks join ``video/`` and ``audio/`` sub-folders; image tasks (s4, ms3, arig, ref_avs)
  join the JSON's relative path directly under ``AVUIE_2/<task>/``; the image field is
  ``image_path`` in train and ``visual_path`` in test; a2v has ``video1_path``/``video2_path``, v2a
  ``audio1_path``/``audio2_path``;
- mer24, unav and avcap have no test file.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from crabplus.data.importers.jsonfile import read_json
from crabplus.data.importers.report import INVALID_FIELD, MISSING_FIELD
from crabplus.schema.records import RecordError
from crabplus.schema.registry import DATASETS

RELEASE_DIR = "AVUIE_2"
RELEASE_SPLITS = ("train", "test")
IMAGE_TASKS = ("s4", "ms3", "arig", "ref_avs")

#: The train target field per task (the release; docs/data.md); every other task uses ``label``.
TARGET_FIELD = {"ucf": "new_label", "ref_avs": "output"} | {
    t: "label_content" for t in ("ave", "unav", "avvp", "s4", "ms3", "arig", "avcap")
}

#: The class field of the action and emotion tasks.
CLASS_FIELD = {
    "ks": "action",
    "ucf": "label",
    "meld": "Emotion",
    "mer24": "discrete",
    "cremad": "emotion",
    "mafw": "emotion",
    "dfew": "emotion",
}

#: Fields the importer maps into the record itself; every other release field is kept in ``meta``.
PATH_FIELDS = (
    "video_path",
    "audio_path",
    "video1_path",
    "video2_path",
    "audio1_path",
    "audio2_path",
    "image_path",
    "visual_path",
)


class Skip(Exception):
    """A release record that cannot become a unified record: ``reason`` is a report key, ``detail``
    names the field and what is wrong."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def target_field(task: str) -> str:
    return TARGET_FIELD.get(task, "label")


def release_file(root: str | Path, task: str, split: str) -> Path:
    return Path(root) / RELEASE_DIR / task / f"{split}.json"


def read_release_json(path: Path) -> list[Any]:
    """The list of records of one release file (plain ``json.load``, as the release does)."""
    data = read_json(path, "release file")
    if not isinstance(data, list):
        raise RecordError(f"expected a JSON list of records, got {type(data).__name__}", file=str(path))
    return data


# --------------------------------------------------------------------------------------------
# field access: every failure is a Skip naming the field
# --------------------------------------------------------------------------------------------


def get_str(raw: dict, name: str, *, allow_number: bool = False) -> str:
    """A non-empty string field (numbers accepted and printed when ``allow_number``)."""
    value = raw.get(name)
    if value is None or value == "":
        raise Skip(MISSING_FIELD, f"field {name!r} is missing or empty")
    if isinstance(value, bool) or not (isinstance(value, str) or (allow_number and isinstance(value, int | float))):
        raise Skip(INVALID_FIELD, f"field {name!r}: expected a string, got {value!r}")
    text = str(value).strip()
    if not text:
        raise Skip(MISSING_FIELD, f"field {name!r} is blank")
    return text


def get_int(raw: dict, name: str) -> int:
    """A whole number given as a number or a numeric string (``3``, ``"3"``, ``3.0``)."""
    value = raw.get(name)
    if value is None or value == "":
        raise Skip(MISSING_FIELD, f"field {name!r} is missing or empty")
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer():
        raise Skip(INVALID_FIELD, f"field {name!r}: expected a whole number, got {value!r}")
    return int(number)


def get_number(raw: dict, name: str) -> float:
    value = raw.get(name)
    if value is None or value == "":
        raise Skip(MISSING_FIELD, f"field {name!r} is missing or empty")
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise Skip(INVALID_FIELD, f"field {name!r}: expected a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise Skip(INVALID_FIELD, f"field {name!r}: expected a finite number, got {value!r}")
    return number


def media_path(task: str, sub: str | None, raw: dict, name: str) -> str:
    """``AVUIE_2/<task>/[<sub>/]<raw[name]>`` (a relative path under the data root); an absolute path
    or one escaping its folder is an invalid field."""
    rel = get_str(raw, name)
    norm = posixpath.normpath(rel.replace("\\", "/"))
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../") or norm == ".":
        raise Skip(INVALID_FIELD, f"field {name!r}: path {rel!r} must stay inside AVUIE_2/{task}/")
    parts = [RELEASE_DIR, task] + ([sub] if sub else []) + [norm]
    return "/".join(parts)


def release_meta(task: str, split: str, raw: dict, source: str, index: int) -> dict[str, Any]:
    """The release fields the record does not map (ids, events, types...), kept verbatim in ``meta``,
    plus where the record came from. A train record's target field becomes ``record.target``; a
    test record that has one keeps it here."""
    skip = set(PATH_FIELDS) | ({target_field(task)} if split == "train" else set())
    meta = {k: v for k, v in raw.items() if k not in skip}
    meta["source"] = source
    meta["index"] = index
    return meta


def all_tasks() -> tuple[str, ...]:
    """The 19 task flags, in registry order."""
    return tuple(DATASETS)
