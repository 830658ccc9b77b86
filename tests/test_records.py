"""The unified record: valid records load; every kind of breakage names file, line, record and field."""

from __future__ import annotations

import json

import pytest

from crabplus.cli import main
from crabplus.schema.records import (
    Answer,
    Event,
    Media,
    Record,
    RecordError,
    load_records,
    resolve_media,
    write_records,
)
from crabplus.schema.registry import DATASETS
from crabplus.tasks.formats import render_answer, render_target


def _ave_record(rid: str = "ave-0") -> dict:
    answer = Answer(events=[Event("red drum", 2, 6)])
    return Record(
        id=rid,
        dataset="ave",
        task="localization",
        split="test",
        media=Media(video="ave/media/0.mp4"),
        instruction=DATASETS["ave"].instruction,
        answer=answer,
        target=render_target("I hear a drum.", render_answer("ave", answer)),
        reasoning="I hear a drum.",
    ).to_json()


def _write(tmp_path, rows) -> str:
    path = tmp_path / "records.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def test_valid_records_round_trip(tmp_path):
    path = _write(tmp_path, [_ave_record("a"), _ave_record("b")])
    records = load_records(path)
    assert [r.id for r in records] == ["a", "b"]
    assert records[0].answer.events[0] == Event("red drum", 2.0, 6.0)
    assert records[0].target.endswith("<event>red drum</event><range>2,6</range>")
    out = write_records(tmp_path / "again.jsonl", records)
    assert [r.to_json() for r in load_records(out)] == [r.to_json() for r in records]


def _broken(mutate) -> dict:
    row = _ave_record("bad-1")
    mutate(row)
    return row


@pytest.mark.parametrize(
    "mutate, field, message",
    [
        (lambda r: r.pop("instruction"), "instruction", "missing required field"),
        (lambda r: r.update(task="dancing"), "task", "unknown task"),
        (lambda r: r.update(task="qa"), "task", "is a 'localization' task"),
        (lambda r: r.update(dataset="nope"), "dataset", "unknown dataset"),
        (lambda r: r.update(target=3), "target", "expected str"),
        (lambda r: r["media"].update(video="../../etc/passwd"), "media.video", "escapes the data root"),
        (lambda r: r["media"].update(video="/abs/clip.mp4"), "media.video", "absolute media path"),
        (lambda r: r["media"].pop("video"), "media.video", "needs media.video"),
        (lambda r: r["answer"].pop("events"), "answer.events", "needs this answer field"),
        (lambda r: r["answer"]["events"][0].update(start="two"), "answer.events[0].start", "expected a finite number"),
        (lambda r: r["answer"]["events"][0].update(start=7), "answer.events[0]", "start < end"),
        (lambda r: r["answer"].update(box=[0, 0, 300, 10]), "answer.box", "<= 224"),
        (lambda r: r.update(colour="red"), "colour", "unknown keys"),
    ],
)
def test_broken_record_names_file_line_id_and_field(tmp_path, mutate, field, message):
    path = _write(tmp_path, [_ave_record("good"), _broken(mutate)])
    with pytest.raises(RecordError) as info:
        load_records(path)
    err = info.value
    assert (err.file, err.line, err.record_id, err.field) == (path, 2, "bad-1", field)
    assert message in str(err)
    assert f"{path}:2" in str(err) and "'bad-1'" in str(err) and f"'{field}'" in str(err)


def test_not_json_and_duplicate_ids(tmp_path):
    path = _write(tmp_path, [_ave_record("x"), "{not json", _ave_record("x")])
    errors: list[RecordError] = []
    records = load_records(path, errors=errors)
    assert [r.id for r in records] == ["x"]
    assert [e.line for e in errors] == [2, 3]
    assert "not valid JSON" in str(errors[0]) and "duplicate id" in str(errors[1])


def test_resolve_media_refuses_escape(tmp_path):
    assert resolve_media(tmp_path, "a/b.mp4") == tmp_path / "a" / "b.mp4"
    with pytest.raises(RecordError, match="escapes"):
        resolve_media(tmp_path, "a/../../b.mp4")


def test_cli_validate_reports_every_bad_record(tmp_path, capsys):
    path = _write(
        tmp_path, [_ave_record("ok"), _broken(lambda r: r.pop("target")), _broken(lambda r: r.update(task="dance"))]
    )
    assert main(["data", "validate", path]) == 1
    captured = capsys.readouterr()
    assert f"{path}:2" in captured.err and "'target'" in captured.err
    assert f"{path}:3" in captured.err and "unknown task" in captured.err
    assert "1 valid records, 2 problem(s)" in captured.out


def test_cli_validate_checks_media_under_root(tmp_path, capsys):
    path = _write(tmp_path, [_ave_record("ok")])
    assert main(["data", "validate", path]) == 0
    assert main(["data", "validate", path, "--root", str(tmp_path)]) == 1
    assert "media file not found" in capsys.readouterr().err
    (tmp_path / "ave" / "media").mkdir(parents=True)
    (tmp_path / "ave" / "media" / "0.mp4").write_bytes(b"x")
    assert main(["data", "validate", str(tmp_path), "--root", str(tmp_path)]) == 0
