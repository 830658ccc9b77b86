"""The one JSON-file reader: every failure is the caller's error type and names the file."""

from __future__ import annotations

import pytest

from crabplus.utils.io import atomic_write_json, read_json


class MyError(ValueError):
    pass


def test_reads_what_was_written_atomically(tmp_path):
    path = atomic_write_json(tmp_path / "a.json", {"x": [1, 2], "é": "ü"})
    assert read_json(path, MyError) == {"x": [1, 2], "é": "ü"}


def test_a_missing_file_raises_the_callers_error_and_message(tmp_path):
    with pytest.raises(MyError, match="no such file"):
        read_json(tmp_path / "none.json", MyError)
    with pytest.raises(MyError, match="^run eval first$"):
        read_json(tmp_path / "none.json", MyError, "run eval first")


def test_bad_json_and_non_utf8_name_the_file_and_where(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": }', encoding="utf-8")
    with pytest.raises(MyError, match=r"bad\.json: not valid JSON: .*line 2, column"):
        read_json(bad, MyError)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"a": "café"}'.encode("latin-1"))
    with pytest.raises(MyError, match=r"latin\.json: not UTF-8 text"):
        read_json(latin, MyError)
