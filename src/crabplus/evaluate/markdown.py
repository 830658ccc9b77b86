"""Markdown renderings of an evaluation report and of a transfer table (read through their types,
:class:`crabplus.schema.report.Report` and :class:`~crabplus.schema.report.TransferTable`)."""

from __future__ import annotations

from crabplus.evaluate.chance import beyond_chance
from crabplus.schema.report import Report, TransferTable


def fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def mark(beyond: bool | None, one_place: bool = False) -> str:
    """✓ beyond the chance band, · not, – unknown; ✓* beyond it with answers that point at one place
    whatever the frame (the segmenter's score, not the model's)."""
    return "–" if beyond is None else ("✓*" if beyond and one_place else "✓" if beyond else "·")


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:+.1f}%"


def render_report(report: Report | dict) -> str:
    """``report.md``: one summary row per dataset, then every metric under the three conventions."""
    report = report if isinstance(report, Report) else Report.from_json(report)
    s, cfg = report.summary, report.config
    lines = [
        "# Evaluation report",
        "",
        f"{s.scored} predictions scored over {len(report.datasets)} datasets ({s.records} records, "
        f"{s.predictions} predictions); {s.unparsed} unparsed, scored as wrong.",
        f"Records without a prediction: {s.without_prediction}; predictions matching no record: "
        f"{s.unknown_predictions}. Segmenter: {cfg.segmenter or 'not needed'}; "
        f"chance seed {cfg.seed}, {cfg.chance_draws} draws.",
        "",
        "**ours**: unparsed predictions count as wrong. **release**: the Crab+ release's convention, unparsed "
        "(and, for S4/MS3/Ref-AVS, regex-invalid) predictions dropped; `kept` is how many remain. "
        "**chance**: the same metric on a seeded uniform guess from these records' own answers, the mean over "
        "independent draws; **band**: the draws' 95th percentile (5th when lower is better); **beyond**: ✓ when "
        "ours passes the band, i.e. chance rarely scores that well on these records.",
        "",
        "| dataset | task | headline metric | ours | release (kept) | chance | band | beyond | n | unparsed |",
        "|---|---|---|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for row in report.datasets.values():
        rel = row.release
        arrow = "" if row.higher_is_better else " ↓"
        lines.append(
            f"| {row.dataset} | {row.task} | {row.primary_metric}{arrow} | {fmt(row.primary)} | "
            f"{fmt(rel.primary)} ({rel.n}) | {fmt(row.chance.primary)} | "
            f"{fmt(row.chance.band)} | {mark(row.beyond_chance, row.one_place_prompts)}"
            f" | {row.n} | {row.unparsed} |"
        )
    lines += [
        "",
        "↓ lower is better. ✓*: beyond the band, but the answers point at nearly the same place in "
        "every frame, so the mask score is what the segmenter finds around one prompt (see the notes).",
        "",
    ]
    files = report.files or {}
    if "scores_plot" in files:
        lines += [f"![headline scores vs chance]({files['scores_plot']})", ""]
    if "routing_plot" in files:
        lines += [f"![routing heatmaps]({files['routing_plot']})", ""]
    lines += ["## All metrics", ""]
    for row in report.datasets.values():
        lines += [
            f"### {row.dataset} — {row.real_name} ({row.metric})",
            "",
            "| metric | ours | release | chance (mean) | band | beyond |",
            "|---|---:|---:|---:|---:|:---:|",
        ]
        chance = row.chance.to_json()  # beyond_chance reads the chance entry as written
        for name, value in row.metrics.items():
            beyond = beyond_chance(value, chance, name)
            lines.append(
                f"| {name} | {fmt(value)} | {fmt(row.release.metrics.get(name))} | "
                f"{fmt(row.chance.metrics.get(name))} | {fmt(row.chance.bands.get(name))} | {mark(beyond)} |"
            )
        for note in row.notes:
            lines.append(f"\n> {note}")
        lines.append("")
    if report.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    return "\n".join(lines)


def render_transfer(table: TransferTable | dict) -> str:
    """``transfer.md``: the paper's transfer table."""
    table = table if isinstance(table, TransferTable) else TransferTable.from_json(table)
    has_base = table.baseline_name is not None
    head = "| dataset | metric | single-task | multi-task | change | sign |"
    rule = "|---|---|---:|---:|---:|:---:|"
    if has_base:
        head += " baseline multi | baseline change | baseline sign |"
        rule += "---:|---:|:---:|"
    lines = [
        "# Transfer table: multi-task vs single-task",
        "",
        f"multi-task run: `{table.multi_name}`" + (f"; baseline: `{table.baseline_name}`" if has_base else ""),
        "",
        "Relative change = (multi - single) / |single| of each headline metric, sign flipped where lower is "
        "better (↓), so a positive change always means the multi-task model is better.",
        "",
        head,
        rule,
    ]
    for r in table.rows:
        arrow = "" if r.higher_is_better else " ↓"
        line = (
            f"| {r.dataset} | {r.metric}{arrow} | {fmt(r.single)} | {fmt(r.multi)} | "
            f"{_pct(r.relative_change)} | {r.sign} |"
        )
        if has_base:
            line += f" {fmt(r.baseline)} | {_pct(r.baseline_relative_change)} | {r.baseline_sign or ''} |"
        lines.append(line)
    lines += [
        "",
        f"Positive transfer on **{table.positive} of {table.compared}** rows "
        f"({fmt(100 * table.positive_share if table.positive_share is not None else None, 1)}%).",
    ]
    if has_base and table.baseline_positive_share is not None:
        lines.append(
            f"Baseline: positive on {table.baseline_positive} of {table.baseline_compared} rows "
            f"({100 * table.baseline_positive_share:.1f}%)."
        )
    if table.missing:
        lines += ["", "Not compared (missing from one side): " + ", ".join(table.missing) + "."]
    if (table.files or {}).get("plot"):
        lines += ["", f"![transfer]({table.files['plot']})"]
    return "\n".join(lines) + "\n"
