"""Merging the benchmarks' own ground truth into imported records.

Why: the release's test JSONs were written for its own generation run, not for the official
metrics, so some lack what a metric needs or hold it only as text (AVVP's per-modality events,
MUSIC-AVQA's question type, UnAV-100's test set, which the release does not ship at all). With the
benchmark's file named on the command line the import takes the answer from there: the benchmark's
own annotation is the reference the official metric is computed against.

Per task (the record key in brackets):

- ave [``vid``] from ``Annotations.txt`` (or a split file): ``answer.events`` = the one event;
- avvp [``filename``, else ``vid``] from ``AVVP_eval_audio.csv`` + ``AVVP_eval_visual.csv``:
  ``answer.audio_events`` / ``visual_events`` (an empty list for a modality without rows);
- avqa [``question_id``] from MUSIC-AVQA JSON(s): ``meta.type`` (e.g. ``["Audio", "Counting"]``) and
  ``answer.text`` (from ``anser``);
- ref_avs [``uid`` + expression] from ``metadata.csv``: ``meta.split`` (test_s / test_u / test_n);
- unav [``vid``] from ``unav100_annotations.json``: ``answer.events`` (duplicates removed).

Each merge is counted per file: ``merged`` (found), ``changed`` (the release said something else)
and ``not_found`` (the record keeps the release's answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crabplus.data.importers.ave import AveAnnotation, ave_index, read_ave_annotations
from crabplus.data.importers.avvp import AvvpVideo, read_avvp_eval
from crabplus.data.importers.convert import Draft
from crabplus.data.importers.music_avqa import AvqaQuestion, avqa_index
from crabplus.data.importers.refavs import RefAvsExpression, find_expression, read_refavs_metadata, refavs_index
from crabplus.data.importers.unav import UnavVideo, read_unav
from crabplus.schema.records import Event


@dataclass
class GroundTruthFiles:
    """The benchmark files to merge (all optional). AVVP needs both CSVs."""

    ave_annotations: str | Path | None = None
    avvp_eval_audio: str | Path | None = None
    avvp_eval_visual: str | Path | None = None
    music_avqa: list[str | Path] = field(default_factory=list)
    refavs_metadata: str | Path | None = None
    unav_annotations: str | Path | None = None

    def __post_init__(self) -> None:
        if (self.avvp_eval_audio is None) != (self.avvp_eval_visual is None):
            raise ValueError("AVVP ground truth needs both AVVP_eval_audio.csv and AVVP_eval_visual.csv")


def _events_key(events: list[Event] | None) -> list[tuple] | None:
    return None if events is None else sorted((e.label, e.start, e.end) for e in events)


@dataclass
class GroundTruth:
    """The loaded benchmark files, indexed for lookup; :meth:`merge` applies them to a draft."""

    ave: dict[str, AveAnnotation] | None = None
    avvp: dict[str, AvvpVideo] | None = None
    avqa: dict[str, AvqaQuestion] | None = None
    refavs: dict[str, list[RefAvsExpression]] | None = None
    unav: dict[str, UnavVideo] | None = None
    files: dict[str, str] = field(default_factory=dict)  # task -> the file(s) it came from
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, files: GroundTruthFiles) -> GroundTruth:
        gt = cls()
        if files.ave_annotations is not None:
            gt.ave = ave_index(read_ave_annotations(files.ave_annotations), file=str(files.ave_annotations))
            gt.files["ave"] = str(files.ave_annotations)
        if files.avvp_eval_audio is not None:
            gt.avvp = read_avvp_eval(files.avvp_eval_audio, files.avvp_eval_visual)
            gt.files["avvp"] = f"{files.avvp_eval_audio} + {files.avvp_eval_visual}"
        if files.music_avqa:
            gt.avqa = avqa_index(list(files.music_avqa))
            gt.files["avqa"] = " + ".join(map(str, files.music_avqa))
        if files.refavs_metadata is not None:
            rows, todo = read_refavs_metadata(files.refavs_metadata)
            gt.refavs = refavs_index(rows)
            gt.files["ref_avs"] = str(files.refavs_metadata)
            if todo:
                gt.notes.append(f"{files.refavs_metadata}: {todo} row(s) marked TODO left out")
        if files.unav_annotations is not None:
            gt.unav = read_unav(files.unav_annotations)
            gt.files["unav"] = str(files.unav_annotations)
            dups = sum(v.duplicates_removed for v in gt.unav.values())
            if dups:
                gt.notes.append(f"{files.unav_annotations}: {dups} duplicate annotation(s) removed")
        return gt

    def merge(self, d: Draft) -> str | None:
        """Apply the ground truth of ``d.task`` to the draft: ``"merged"``, ``"changed"``,
        ``"not_found"``, or None when no file was given for the task."""
        handler = {
            "ave": self._ave,
            "avvp": self._avvp,
            "avqa": self._avqa,
            "ref_avs": self._refavs,
            "unav": self._unav,
        }.get(d.task)
        if handler is None or getattr(self, {"ref_avs": "refavs"}.get(d.task, d.task)) is None:
            return None
        outcome = handler(d)
        if outcome != "not_found":
            d.meta["ground_truth"] = Path(self.files[d.task].split(" + ")[0]).name
        return outcome

    def _ave(self, d: Draft) -> str:
        ann = self.ave.get(str(d.meta.get("vid")))
        if ann is None:
            return "not_found"
        new = [ann.event()]
        changed = d.answer.events is not None and _events_key(d.answer.events) != _events_key(new)
        d.answer.events, d.problem = new, None
        return "changed" if changed else "merged"

    def _avvp(self, d: Draft) -> str:
        video = self.avvp.get(str(d.meta.get("filename"))) or self.avvp.get(str(d.meta.get("vid")))
        if video is None:
            return "not_found"
        changed = d.answer.audio_events is not None and (
            _events_key(d.answer.audio_events) != _events_key(video.audio)
            or _events_key(d.answer.visual_events) != _events_key(video.visual)
        )
        d.answer.audio_events, d.answer.visual_events = list(video.audio), list(video.visual)
        d.problem = None
        return "changed" if changed else "merged"

    def _avqa(self, d: Draft) -> str:
        q = self.avqa.get(str(d.meta.get("question_id")))
        if q is None:
            return "not_found"
        changed = d.answer.text is not None and d.answer.text != q.answer
        old_type: Any = d.meta.get("type")
        changed = changed or (old_type is not None and list(old_type) != list(q.type))
        d.meta["type"] = list(q.type)
        d.answer.text, d.problem = q.answer, None
        return "changed" if changed else "merged"

    def _refavs(self, d: Draft) -> str:
        row = find_expression(self.refavs, str(d.meta.get("uid")), d.meta.get("expression"))
        if row is None:
            return "not_found"
        changed = d.meta.get("split") is not None and d.meta["split"] != row.split
        if d.split == "test" and changed:
            # the metadata decides the subset; an expression of the null split refers to nothing
            d.answer.exists = d.answer.exists and row.exists
            if not d.answer.exists:
                d.answer.label = d.answer.box = d.answer.points = None
        d.meta["split"] = row.split
        return "changed" if changed else "merged"

    def _unav(self, d: Draft) -> str:
        video = self.unav.get(str(d.meta.get("vid")))
        if video is None:
            return "not_found"
        changed = d.answer.events is not None and _events_key(d.answer.events) != _events_key(video.events)
        d.answer.events, d.problem = list(video.events), None
        d.meta["unav_subset"] = video.subset
        if video.duration is not None:
            d.meta["duration"] = video.duration
        return "changed" if changed else "merged"
