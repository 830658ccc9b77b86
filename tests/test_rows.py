"""Prediction rows (crabplus.schema.rows): the JSON round trip is exact, the on-disk key order is the one
``crabplus predict`` and the demo have always written, and a bad row names its file, line, id and field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crabplus.evaluate import load_predictions
from crabplus.schema.records import RecordError
from crabplus.schema.registry import RELEASE_DATASETS
from crabplus.schema.rows import PredictionRow

_text = st.text(max_size=30)
_weights = st.lists(st.floats(0, 1, allow_nan=False), min_size=3, max_size=3)
rows = st.builds(
    PredictionRow,
    id=st.text(min_size=1, max_size=12),
    dataset=st.sampled_from(RELEASE_DATASETS),
    predict=_text,
    routing=st.none() | st.dictionaries(st.sampled_from(["l.0.q_proj", "l.1.v_proj"]), _weights),
    prediction=st.none() | st.fixed_dictionaries({"parsed": st.booleans(), "label": st.none() | _text}),
    source=st.none() | _text,
    notes=st.lists(_text, max_size=2),
)


@given(rows)
def test_round_trip_through_json_text_is_exact(row):
    text = json.dumps(row.to_json(), ensure_ascii=False)
    back = PredictionRow.from_json(json.loads(text))
    assert back == row
    assert json.dumps(back.to_json(), ensure_ascii=False) == text


def test_disk_layout_keeps_the_keys_and_their_order():
    batch = PredictionRow("ks-1", "ks", "<answer>dog</answer>", {})  # what the demo writes
    assert list(batch.to_json()) == ["id", "dataset", "predict", "routing"]
    many = PredictionRow(
        "ks-1", "ks", "x", {"a": [0.5, 0.5]}, prediction={"parsed": True, "notes": []}, source="data/ks.jsonl"
    )  # what `crabplus predict` writes
    assert list(many.to_json()) == ["id", "dataset", "predict", "prediction", "routing", "source"]
    noted = PredictionRow("ks-1", "ks", "x", {}, notes=["no audio track: a silent track"])
    assert noted.to_json()["notes"] == ["no audio track: a silent track"]


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({"id": "a", "dataset": "nope", "predict": "x"}, "dataset", "unknown dataset"),
        ({"id": "a", "dataset": "ks", "predict": 3}, "predict", "expected the generated text"),
        ({"id": "a", "dataset": "ks", "predict": "x", "routing": {"l": [0.5, -1.0]}}, "routing.l", "finite weights"),
        ({"id": "a", "dataset": "ks", "predict": "x", "notes": "one"}, "notes", "list of strings"),
        ({"id": "a", "dataset": "ks", "predict": "x", "extra": 1}, "extra", "unknown keys"),
        ({"dataset": "ks", "predict": "x"}, "id", "missing or empty id"),
    ],
)
def test_a_bad_row_names_file_line_and_field(tmp_path, line, field, message):
    path = tmp_path / "predictions.jsonl"
    good = {"id": "ok", "dataset": "ks", "predict": "<answer>dog</answer>"}
    path.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(RecordError, match=message) as err:
        load_predictions(path)
    assert err.value.file == str(path) and err.value.line == 2 and err.value.field == field
    assert f"{path}:2" in str(err.value) and f"field {field!r}" in str(err.value)
