"""The transfer analysis: does training on all tasks together help each task (Crab+'s headline claim)?

Inputs are evaluation reports (``report.json``): one or more single-task runs (each scoring the
dataset(s) it was trained on), the multi-task run, and optionally a baseline multi-task run (e.g.
plain LoRA). One row per dataset headline metric (Ref-AVS contributes J and null S):

    change = (multi - single) / |single|, with the sign flipped for lower-is-better metrics

so a positive change always means multi-task training helped. ``single == 0`` leaves the relative
change undefined (None) and the sign follows the absolute difference. The share of rows with a
positive sign is the paper's "positive transfer on x% of tasks".

Reports are read through :class:`crabplus.schema.report.Report` and the table is built as a
:class:`~crabplus.schema.report.TransferTable`, which :func:`transfer_table` returns (its ``.to_json()`` is
``transfer.json``).
"""

from __future__ import annotations

from pathlib import Path

from crabplus.schema.report import Report, ReportError, TransferRow, TransferTable
from crabplus.utils.errors import CrabplusError
from crabplus.utils.io import atomic_write_json, atomic_write_text, read_json

TOLERANCE = 1e-12


class TransferError(CrabplusError, ValueError):
    """The reports cannot be compared (the message names the run or dataset)."""


def load_run_report(run: str | Path) -> tuple[str, Report]:
    """``(name, report)`` from a run folder holding ``report.json`` (or the file itself)."""
    path = Path(run)
    file = path / "report.json" if path.is_dir() else path
    obj = read_json(file, TransferError, f"{path}: no report.json (run `crabplus eval ... --out {path}` first)")
    try:
        report = Report.from_json(obj, file=str(file))
    except ReportError as exc:
        raise TransferError(f"not a crabplus evaluation report: {exc}") from None
    name = file.parent.name if file.name == "report.json" else file.stem
    return name or str(file), report


def _headlines(report: Report | dict) -> dict[tuple[str, str], tuple[float, bool]]:
    report = report if isinstance(report, Report) else Report.from_json(report)
    out = {}
    for name, row in report.datasets.items():
        for metric, h in row.headline.items():
            if h.value is not None:
                out[(name, metric)] = (float(h.value), h.higher_is_better)
    return out


def _change(single: float, other: float, higher: bool) -> tuple[float | None, str]:
    diff = other - single if higher else single - other
    sign = "+" if diff > TOLERANCE else "-" if diff < -TOLERANCE else "0"
    return (diff / abs(single) if abs(single) > TOLERANCE else None), sign


def transfer_table(
    single_reports: list[Report | dict],
    multi_report: Report | dict,
    baseline_report: Report | dict | None = None,
    *,
    single_names: list[str] | None = None,
    multi_name: str = "multi-task",
    baseline_name: str = "baseline",
) -> TransferTable:
    """The transfer table (``rows``, ``positive_share``, …; see the module docstring and
    :class:`crabplus.schema.report.TransferTable`). Reports may be :class:`Report` objects or their JSON."""
    if not single_reports:
        raise TransferError("need at least one single-task report")
    single_names = single_names or [f"single-{i}" for i in range(len(single_reports))]
    single: dict[tuple[str, str], tuple[float, bool]] = {}
    source: dict[tuple[str, str], str] = {}
    for name, report in zip(single_names, single_reports):
        for key, value in _headlines(report).items():
            if key in single:
                raise TransferError(
                    f"dataset {key[0]!r} ({key[1]}) is scored by two single-task runs: {source[key]!r} and {name!r}"
                )
            single[key], source[key] = value, name
    multi = _headlines(multi_report)
    base = _headlines(baseline_report) if baseline_report is not None else {}
    rows, missing = [], []
    for key in sorted(set(single) | set(multi)):
        if key not in single or key not in multi:
            why = "no single-task run" if key not in single else "not in the multi run"
            missing.append(f"{key[0]} ({key[1]}: {why})")
            continue
        (s, higher), (m, _) = single[key], multi[key]
        rel, sign = _change(s, m, higher)
        row = TransferRow(key[0], key[1], higher, source[key], s, m, rel, sign)
        if baseline_report is not None:
            b = base.get(key)
            row.baseline = b[0] if b else None
            row.baseline_relative_change, row.baseline_sign = _change(s, b[0], higher) if b else (None, "")
        rows.append(row)
    positive = sum(r.sign == "+" for r in rows)
    table = TransferTable(
        multi_name,
        baseline_name if baseline_report is not None else None,
        single_names,
        rows,
        compared=len(rows),
        positive=positive,
        positive_share=positive / len(rows) if rows else None,
        missing=missing,
    )
    if baseline_report is not None:
        base_rows = [r for r in rows if r.baseline_sign]
        table.baseline_compared = len(base_rows)
        table.baseline_positive = sum(r.baseline_sign == "+" for r in base_rows)
        table.baseline_positive_share = table.baseline_positive / len(base_rows) if base_rows else None
    return table


def write_transfer(table: TransferTable, out_dir: str | Path) -> dict[str, str]:
    """Write ``transfer.json``, ``transfer.md`` and ``transfer.png`` into ``out_dir``; returns the file names
    written (also stored in ``table.files``)."""
    from crabplus.evaluate.markdown import render_transfer
    from crabplus.evaluate.plots import plot_transfer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": "transfer.json", "markdown": "transfer.md"}
    if plot_transfer(table, out / "transfer.png") is not None:
        files["plot"] = "transfer.png"
    table.files = files
    atomic_write_text(out / "transfer.md", render_transfer(table))
    atomic_write_json(out / "transfer.json", table.to_json())
    return files
