"""Import the AV-UIE v2 release (``<ROOT>/AVUIE_2/<task>/{train,test}.json``) as unified records.

For each requested task and split: read the release JSON, convert every record
(:mod:`~crabplus.data.importers.convert`), merge the benchmark ground truth when its file is given
(:mod:`~crabplus.data.importers.merge`), finalise (target, schema validation), check that every
media file exists under ROOT, and write ``OUT/<task>/<split>.jsonl``; then write the report
``OUT/import_report.json``. Record ids are ``<task>-<split>-<index in the release file>``, stable
for a given release file.

Targets: a train record keeps the release's own target string; a test record (the release has none)
gets the target rendered from its structured answer in our format (``crabplus.tasks.formats``).

Missing media: by default a record whose video / audio / frame / mask file is missing is skipped
and counted (``missing media``), so the written files train and evaluate without errors; with
``skip_missing_media=False`` such records are written anyway and counted as ``kept_missing_media``
(for importing the annotations before the media is in place).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from crabplus.data.importers.convert import Context, Draft, Parser, convert
from crabplus.data.importers.merge import GroundTruth, GroundTruthFiles
from crabplus.data.importers.release import (
    RELEASE_DIR,
    RELEASE_SPLITS,
    Skip,
    all_tasks,
    read_release_json,
    release_file,
)
from crabplus.data.importers.report import INVALID_FIELD, MISSING_FIELD, MISSING_MEDIA, ImportReport, SplitReport
from crabplus.schema.records import MEDIA_PATH_FIELDS, Record, RecordError, record_from_json, write_records
from crabplus.schema.registry import DATASETS
from crabplus.tasks.formats import render_answer, render_target
from crabplus.utils.progress import track

REPORT_NAME = "import_report.json"


def default_parser() -> Parser | None:
    """``crabplus.tasks.parsers.parse_answer`` when that module exists, else None (records whose
    answer must be parsed from text are then skipped as unparsable, with that reason)."""
    try:
        from crabplus.tasks.parsers import parse_answer
    except ImportError:
        return None
    return parse_answer


def parse_tasks(text: str | Iterable[str] | None) -> list[str]:
    """``"ks,ave"`` (or a list) -> the task flags, checked; None / ``"all"`` -> all 19."""
    if text is None:
        return list(all_tasks())
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    if names == ["all"]:
        return list(all_tasks())
    unknown = [t for t in names if t not in DATASETS]
    if unknown or not names:
        raise ValueError(f"unknown task flag(s) {unknown or names} (known: {', '.join(all_tasks())})")
    return list(dict.fromkeys(names))


def finalize(d: Draft) -> Record:
    """The validated record of a complete draft; :class:`Skip` when the answer is incomplete or the
    record breaks the schema."""
    spec = DATASETS[d.task]
    missing = [name for name in spec.answer_fields if getattr(d.answer, name) is None]
    if missing:
        raise Skip(*(d.problem or (MISSING_FIELD, f"no value for answer field(s) {missing}")))
    target = d.target if d.split == "train" else render_target(None, render_answer(spec, d.answer))
    rec = Record(
        f"{d.task}-{d.split}-{d.index:06d}",
        d.task,
        spec.task,
        d.split,
        d.media,
        d.instruction,
        d.answer,
        target,
        None,
        d.meta,
    )
    try:
        return record_from_json(rec.to_json())
    except RecordError as exc:
        raise Skip(INVALID_FIELD, str(exc)) from None


def _missing_media(root: Path, rec: Record) -> list[str]:
    paths = [getattr(rec.media, name) for name in MEDIA_PATH_FIELDS] + [rec.answer.mask]
    return [rel for rel in paths if rel is not None and not os.path.isfile(os.path.join(root, rel))]


def _unav_test_samples(gt: GroundTruth) -> list[dict]:
    """The release ships no UnAV-100 test file; with the benchmark JSON, its ``test`` subset becomes
    test records whose media is expected at ``AVUIE_2/unav/{video,audio}/<vid>.{mp4,mp3}``."""
    return [
        {"video_path": f"{vid}.mp4", "audio_path": f"{vid}.mp3", "vid": vid}
        for vid, video in sorted(gt.unav.items())
        if video.subset == "test"
    ]


def import_split(
    root: Path,
    task: str,
    split: str,
    samples: list,
    source: str,
    rep: SplitReport,
    ctx: Context,
    gt: GroundTruth,
    skip_missing_media: bool,
) -> list[Record]:
    """Convert, merge, finalise and media-check the ``samples`` of one file, counting into ``rep``."""
    records: list[Record] = []
    gt_counts = {"merged": 0, "changed": 0, "not_found": 0}
    for index, raw in enumerate(track(samples, f"{task}/{split}")):
        rep.read += 1
        rid = f"{task}-{split}-{index:06d}"
        try:
            draft = convert(task, split, raw, index, source, ctx)
            outcome = gt.merge(draft)
            if outcome is not None:
                gt_counts[outcome] += 1
            rec = finalize(draft)
        except Skip as skip:
            rep.skip(skip.reason, f"{rid}: {skip.detail}")
            continue
        missing = _missing_media(root, rec)
        if missing:
            if skip_missing_media:
                rep.skip(MISSING_MEDIA, f"{rid}: {', '.join(missing)}")
                continue
            rep.kept_missing_media += 1
        records.append(rec)
        rep.written += 1
    if task in gt.files:
        rep.ground_truth = {"file": gt.files[task], **gt_counts}
    return records


def import_avuie(
    root: str | Path,
    out: str | Path,
    *,
    tasks: Iterable[str] | str | None = None,
    splits: Iterable[str] = RELEASE_SPLITS,
    skip_missing_media: bool = True,
    ground_truth: GroundTruthFiles | None = None,
    parser: Parser | None = None,
) -> ImportReport:
    """Import the release under ``root`` into ``out`` (see the module docstring) and return the
    report, also written to ``out/import_report.json``. A release file that is not valid JSON is
    reported as an error for that file and the import goes on with the others."""
    root, out = Path(root), Path(out)
    if not (root / RELEASE_DIR).is_dir():
        raise RecordError(
            f"no {RELEASE_DIR}/ folder under the data root (ROOT is the folder that holds {RELEASE_DIR}/)",
            file=str(root),
        )
    tasks = parse_tasks(tasks)
    splits = list(splits)
    if bad := [s for s in splits if s not in RELEASE_SPLITS]:
        raise ValueError(f"unknown split(s) {bad} (known: {', '.join(RELEASE_SPLITS)})")
    gt = GroundTruth.load(ground_truth or GroundTruthFiles())
    ctx = Context(root=root, parse=parser if parser is not None else default_parser())
    report = ImportReport(root=str(root), out=str(out), skip_missing_media=skip_missing_media, check_media=True)
    report.notes.extend(gt.notes)
    if ctx.parse is None:
        report.notes.append(
            "crabplus.tasks.parsers is not available: answers that live only in target text "
            "(unav, avvp, s4/ms3/arig/ref_avs train) cannot be recovered"
        )
    for task in tasks:
        for split in splits:
            rep = report.add(task, split)
            path = release_file(root, task, split)
            rep.source = path.relative_to(root).as_posix()
            if path.is_file():
                try:
                    samples = read_release_json(path)
                except RecordError as exc:
                    rep.status = f"error: {exc}"
                    continue
            elif task == "unav" and split == "test" and gt.unav is not None:
                samples, rep.source = _unav_test_samples(gt), gt.files["unav"]
            else:
                rep.status = "absent" if DATASETS[task].has_test or split == "train" else "not in release"
                continue
            records = import_split(root, task, split, samples, rep.source, rep, ctx, gt, skip_missing_media)
            target = out / task / f"{split}.jsonl"
            if records:
                write_records(target, records)
                rep.output = target.relative_to(out).as_posix()
            elif target.is_file():  # nothing valid this time: a file from an earlier run must not linger
                target.unlink()
    report.write(out / REPORT_NAME)
    return report
