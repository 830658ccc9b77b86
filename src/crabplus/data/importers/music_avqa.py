"""MUSIC-AVQA ground truth: ``avqa-{train,val,test}.json`` (benchmarks.md §5).

Each file is a JSON list of objects like::

    {"video_id": "00000093", "question_id": 12, "type": "[\\"Audio\\", \\"Counting\\"]",
     "question_content": "How many <Object> are there?", "templ_values": "[\\"violin\\"]",
     "question_deleted": 0, "anser": "one"}

Quirks kept: the answer key is misspelled ``anser``; ``type`` and ``templ_values`` are *strings*
holding JSON lists. The question type is ``type`` = [modality, kind], e.g. ``["Audio", "Counting"]``
(modalities Audio / Visual / Audio-Visual), which the official metric buckets accuracy by.

Template filling: each ``<...>`` placeholder is replaced, in order, by the next ``templ_values``
entry. (The official loader splits on spaces and replaces whole tokens containing ``<``, dropping
the question mark; replacing just the placeholder keeps the punctuation and gives the readable
question. A different number of placeholders and values is an error, as it is there.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crabplus.data.importers.jsonfile import read_json
from crabplus.schema.records import RecordError

_PLACEHOLDER = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class AvqaQuestion:
    video_id: str
    question_id: str
    type: tuple[str, ...]  # e.g. ("Audio", "Counting")
    question: str  # the template with its values filled in
    answer: str

    @property
    def type_name(self) -> str:
        """``"Audio-Counting"``-style name of the question type."""
        return "-".join(self.type)


def parse_json_list(value: Any, *, what: str, **where) -> list:
    """A list given either as a list or as a string holding a JSON list (the MUSIC-AVQA quirk)."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    raise RecordError(f"expected a list or a string holding a JSON list, got {value!r}", field=what, **where)


def fill_template(template: str, values: list[str], **where) -> str:
    """``template`` with its ``<...>`` placeholders replaced in order by ``values``."""
    slots = _PLACEHOLDER.findall(template)
    if len(slots) != len(values):
        raise RecordError(
            f"{len(slots)} placeholders {slots} but {len(values)} templ_values {values}", field="templ_values", **where
        )
    it = iter(values)
    return _PLACEHOLDER.sub(lambda _m: str(next(it)), template)


def read_music_avqa(path: str | Path) -> list[AvqaQuestion]:
    """The questions of one MUSIC-AVQA JSON file, in file order."""
    path = Path(path)
    rows = read_json(path, "MUSIC-AVQA file")
    if not isinstance(rows, list):
        raise RecordError("expected a JSON list of questions", file=str(path))
    out = []
    for i, row in enumerate(rows):
        where = {"file": str(path), "record_id": f"#{i}"}
        if not isinstance(row, dict):
            raise RecordError(f"expected an object, got {row!r}", **where)
        for key in ("video_id", "question_id", "type", "question_content", "anser"):
            if row.get(key) is None:
                raise RecordError("missing required field", field=key, **where)
        where["record_id"] = f"question_id {row['question_id']}"
        qtype = parse_json_list(row["type"], what="type", **where)
        values = parse_json_list(row.get("templ_values", "[]"), what="templ_values", **where)
        question = fill_template(str(row["question_content"]), [str(v) for v in values], **where)
        out.append(
            AvqaQuestion(
                str(row["video_id"]), str(row["question_id"]), tuple(str(t) for t in qtype), question, str(row["anser"])
            )
        )
    return out


def avqa_index(paths: list[str | Path]) -> dict[str, AvqaQuestion]:
    """``question_id -> question`` over several files (train/val/test); a question id that appears in
    two files with different content is an error."""
    out: dict[str, AvqaQuestion] = {}
    for path in paths:
        for q in read_music_avqa(path):
            if q.question_id in out and out[q.question_id] != q:
                raise RecordError(f"question_id {q.question_id} differs between files", file=str(path))
            out[q.question_id] = q
    return out
