"""The transfer table: signs (flipped where lower is better), shares, errors; ``crabplus transfer`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.reports import dataset_score, make_report

from crabplus.cli import main
from crabplus.evaluate import TransferError, load_run_report, transfer_table
from crabplus.schema.report import Report

FIX = Path(__file__).parent / "fixtures" / "eval"


def _report(**datasets) -> Report:
    """A report: dataset -> {metric: (value, higher_is_better)}."""
    return make_report(*(dataset_score(name, headline) for name, headline in datasets.items()))


def test_relative_change_and_sign_flip_for_lower_is_better():
    single_a = _report(ks={"accuracy": (0.5, True)}, ref_avs={"miou": (0.6, True), "null_s": (0.4, False)})
    single_b = _report(ave={"accuracy": (0.0, True)}, arig={"miou": (0.8, True)})
    multi = _report(
        ks={"accuracy": (0.6, True)},
        ref_avs={"miou": (0.6, True), "null_s": (0.3, False)},
        ave={"accuracy": (0.2, True)},
        arig={"miou": (0.6, True)},
        meld={"accuracy": (0.9, True)},
    )
    table = transfer_table([single_a, single_b], multi, single_names=["a", "b"])
    rows = {(r.dataset, r.metric): r for r in table.rows}
    assert rows[("ks", "accuracy")].relative_change == pytest.approx(0.2) and rows[("ks", "accuracy")].sign == "+"
    # null S fell from 0.4 to 0.3: lower is better, so this is a +25% improvement
    null = rows[("ref_avs", "null_s")]
    assert null.relative_change == pytest.approx(0.25) and null.sign == "+"
    assert rows[("ref_avs", "miou")].sign == "0"
    assert rows[("ave", "accuracy")].relative_change is None and rows[("ave", "accuracy")].sign == "+"
    assert rows[("arig", "miou")].relative_change == pytest.approx(-0.25) and rows[("arig", "miou")].sign == "-"
    assert rows[("arig", "miou")].single_run == "b"
    assert table.compared == 5 and table.positive == 3 and table.positive_share == pytest.approx(0.6)
    assert table.missing == ["meld (accuracy: no single-task run)"]


def test_baseline_columns():
    single = _report(ks={"accuracy": (0.5, True)}, ref_avs={"null_s": (0.4, False)})
    multi = _report(ks={"accuracy": (0.6, True)}, ref_avs={"null_s": (0.3, False)})
    base = _report(ks={"accuracy": (0.4, True)}, ref_avs={"null_s": (0.5, False)})
    table = transfer_table([single], multi, base, baseline_name="lora")
    assert [r.baseline_sign for r in table.rows] == ["-", "-"]
    assert table.baseline_positive_share == 0.0 and table.positive_share == 1.0
    assert table.rows[0].baseline_relative_change == pytest.approx(-0.2)


def test_a_dataset_in_two_single_runs_is_an_error():
    one = _report(ks={"accuracy": (0.5, True)})
    with pytest.raises(TransferError, match="'ks'.*two single-task runs"):
        transfer_table([one, one], one, single_names=["x", "y"])
    with pytest.raises(TransferError, match="at least one"):
        transfer_table([], one)


def test_load_run_report_errors(tmp_path):
    with pytest.raises(TransferError, match="no report.json"):
        load_run_report(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"datasets": {}}))
    with pytest.raises(TransferError, match="not a crabplus evaluation report"):
        load_run_report(tmp_path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, preds in (
        ("multi", "predictions.jsonl"),
        ("single", "predictions_single.jsonl"),
        ("lora", "predictions_baseline.jsonl"),
    ):
        assert (
            main(
                [
                    "eval",
                    "--predictions",
                    str(FIX / preds),
                    "--data",
                    str(FIX / "records.jsonl"),
                    "--out",
                    str(root / name),
                    "--no-meteor",
                ]
            )
            == 0
        )
    return root


def test_transfer_command_end_to_end(runs, capsys):
    code = main(
        ["transfer", "--single", str(runs / "single"), "--multi", str(runs / "multi"), "--baseline", str(runs / "lora")]
    )
    assert code == 0
    out_dir = runs / "multi" / "transfer"
    table = json.loads((out_dir / "transfer.json").read_text())
    assert table["files"] == {"json": "transfer.json", "markdown": "transfer.md", "plot": "transfer.png"}
    assert (out_dir / "transfer.png").read_bytes()[:4] == b"\x89PNG"
    rows = {(r["dataset"], r["metric"]): r for r in table["rows"]}
    assert set(rows) == {
        ("ks", "accuracy"),
        ("meld", "accuracy"),
        ("ave", "accuracy"),
        ("arig", "miou"),
        ("ref_avs", "miou"),
        ("ref_avs", "null_s"),
    }
    assert rows[("ks", "accuracy")]["single"] == 1.0 and rows[("ks", "accuracy")]["sign"] == "-"
    assert rows[("meld", "accuracy")]["sign"] == "+"  # 1/3 -> 2/3
    # the single run says "true" on both null samples: its S is higher (worse) than the multi run's
    null = rows[("ref_avs", "null_s")]
    assert null["single"] > null["multi"] and null["sign"] == "+"
    assert rows[("ref_avs", "miou")]["sign"] == "0"  # the same prompts on the same frames
    assert table["positive"] == 2 and table["compared"] == 6
    assert len(table["missing"]) == 14  # datasets the single-task runs did not cover
    md = (out_dir / "transfer.md").read_text()
    assert "Positive transfer on **2 of 6** rows" in md and "null_s ↓" in md
    assert "positive transfer on 2/6 rows" in capsys.readouterr().out


def test_transfer_command_errors(runs, tmp_path, capsys):
    assert main(["transfer", "--single", str(tmp_path), "--multi", str(runs / "multi")]) == 2
    assert "no report.json" in capsys.readouterr().err
