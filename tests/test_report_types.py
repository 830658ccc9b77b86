"""Typed reports (crabplus.schema.report): a real evaluation's report.json and a transfer table read into the
types and write back exactly (same keys, order and values), and a damaged file names the file and the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from helpers.reports import dataset_score, make_report
from hypothesis import given
from hypothesis import strategies as st

from crabplus.evaluate import (
    EvalConfig,
    TransferError,
    evaluate_predictions,
    load_predictions,
    load_run_report,
    transfer_table,
)
from crabplus.evaluate.report import write_report
from crabplus.schema.records import load_records
from crabplus.schema.report import Report, ReportError, TransferTable

FIX = Path(__file__).parent / "fixtures" / "eval"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The fixtures' report (all 19 datasets, with routing), written to disk as ``crabplus eval`` does:
    ``(report.json's path, the Report evaluate_predictions returned)``."""
    out = tmp_path_factory.mktemp("report")
    records = load_records(FIX / "records.jsonl")
    cfg = EvalConfig(chance_draws=2, mask_chance_draws=1, meteor=False)
    report = evaluate_predictions(records, load_predictions(FIX / "predictions.jsonl"), FIX, config=cfg)
    assert report.files is None
    assert write_report(report, out) == report.files  # writing names the files in the report itself
    return out / "report.json", report


def test_a_written_report_round_trips_exactly(written):
    written, returned = written
    text = written.read_text(encoding="utf-8")
    obj = json.loads(text)
    report = Report.from_json(obj, file=str(written))
    assert len(report.datasets) == 19 and report.routing is not None and report.files["json"] == "report.json"
    assert report.to_json() == obj and report == returned  # the returned Report is what report.json holds
    assert json.dumps(report.to_json(), indent=2, ensure_ascii=False) == json.dumps(obj, indent=2, ensure_ascii=False)
    ks = report.datasets["ks"]
    assert ks.primary == obj["datasets"]["ks"]["primary"] and ks.chance.draws == 2


@pytest.mark.parametrize(
    ("damage", "field", "message"),
    [
        (lambda o: o["datasets"]["ks"]["chance"].pop("band"), "datasets.ks.chance.band", "missing"),
        (lambda o: o["datasets"]["ave"].__setitem__("n", "3"), "datasets.ave.n", "expected int"),
        (lambda o: o["summary"].__setitem__("surprise", 1), "summary.surprise", "unknown key"),
        (lambda o: o["datasets"]["s4"]["metrics"].__setitem__("miou", "high"), "datasets.s4.metrics.miou", "number"),
        (lambda o: o.__setitem__("format", "other/1"), "format", "not a crabplus evaluation report"),
        (
            lambda o: o["routing"]["tasks"]["action"]["mean"][0].pop(),
            "routing.tasks.action.mean.0",
            "expected 3 numbers",
        ),
        (lambda o: o["routing"]["tasks"]["action"]["mean"].pop(), "routing.tasks.action.mean", "expected 3 rows"),
    ],
)
def test_a_damaged_report_names_file_and_field(written, tmp_path, damage, field, message):
    obj = json.loads(written[0].read_text(encoding="utf-8"))
    damage(obj)
    with pytest.raises(ReportError, match=message) as err:
        Report.from_json(obj, file="runs/x/report.json")
    assert err.value.field == field and str(err.value).startswith(f"runs/x/report.json: {field}: ")
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(TransferError, match=f"{run / 'report.json'}: {field}"):
        load_run_report(run)


def test_transfer_tables_round_trip_with_and_without_baseline():
    single = make_report(
        dataset_score("ks", {"accuracy": (0.5, True)}),
        dataset_score("ref_avs", {"miou": (0.6, True), "null_s": (0.4, False)}),
    )
    multi = make_report(
        dataset_score("ks", {"accuracy": (0.6, True)}),
        dataset_score("ref_avs", {"miou": (0.5, True), "null_s": (0.3, False)}),
        dataset_score("meld", {"accuracy": (0.9, True)}),
    )
    base = make_report(dataset_score("ks", {"accuracy": (0.4, True)}))
    for table in (transfer_table([single], multi), transfer_table([single], multi, base, baseline_name="lora")):
        obj = table.to_json()
        typed = TransferTable.from_json(copy.deepcopy(obj))
        assert typed == table and typed.to_json() == obj and list(typed.to_json()) == list(obj)
        assert [list(r.to_json()) for r in typed.rows] == [list(r) for r in obj["rows"]]
    with_base = transfer_table([single], multi, base, baseline_name="lora")
    assert [r.baseline_sign for r in with_base.rows] == ["-", "", ""]  # only ks is in the baseline
    assert with_base.baseline_compared == 1 and with_base.missing == ["meld (accuracy: no single-task run)"]
    with pytest.raises(ReportError, match="rows.0.sign"):
        broken = transfer_table([single], multi).to_json()
        broken["rows"][0]["sign"] = 1
        TransferTable.from_json(broken)


_score = st.floats(0, 1, allow_nan=False) | st.integers(0, 10)


@given(value=_score, higher=st.booleans(), chance=st.none() | st.tuples(_score, _score))
def test_any_dataset_row_round_trips(value, higher, chance):
    report = make_report(dataset_score("ks", {"accuracy": (value, higher)}, chance))
    obj = report.to_json()
    back = Report.from_json(json.loads(json.dumps(obj)))
    assert back.to_json() == obj and back == report == Report.from_json(obj)
