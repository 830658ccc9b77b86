"""Transfer over seeds: per dataset, the mean multi-minus-single difference and its 95 % interval.

One seed is one draw of the data order and the adapters' initial weights. For each seed ``s`` the study
trains every single-task run and every multi-task run with that seed; the difference of a dataset's
headline metric is paired by seed,

    d_s = multi_s - single_s        (sign flipped for lower-is-better metrics: positive = transfer helps),

and over the seeds we report the mean, the t-interval ``mean ± t(0.975, n-1) · sd / sqrt(n)`` and whether it
excludes zero (a *significant* positive or negative). With one seed there is no interval (None). The
headline is the share of datasets whose mean difference is positive, per multi-task method, side by side.
``mean_transfer_bands`` puts datasets on one scale: each mean difference divided by the width of that
dataset's chance band (band minus chance mean, from the single-task report; rows without a band are left
out of that mean).
"""

from __future__ import annotations

import math

from crabplus.schema.report import Report

TOLERANCE = 1e-12

#: t(0.975, df) for df = 1..30 (standard tables); beyond 30 the normal 1.960 is within 2 % of it
T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float | None, float | None]:
    """(mean, low, high) of the two-sided 95 % t-interval of the mean; no interval for one value."""
    if level != 0.95:
        raise ValueError(f"t_interval: only the 95 % interval is tabulated, got level {level}")
    n = len(values)
    if n == 0:
        raise ValueError("t_interval: no values")
    mean = sum(values) / n
    if n == 1:
        return mean, None, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = (T975[n - 2] if n - 1 <= len(T975) else 1.960) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def _report(report: Report | dict) -> Report:
    return report if isinstance(report, Report) else Report.from_json(report)


def _headlines(report: Report | dict) -> dict[tuple[str, str], tuple[float, bool, float | None]]:
    """(dataset, metric) -> (value, higher_is_better, chance band width or None)."""
    out = {}
    for name, row in _report(report).datasets.items():
        chance = row.chance
        width = None
        if row.primary is not None and chance.band is not None and chance.primary is not None:
            width = abs(chance.band - chance.primary) or None
        for metric, h in row.headline.items():
            if h.value is not None:
                is_primary = metric == row.primary_metric
                out[(name, metric)] = (float(h.value), h.higher_is_better, width if is_primary else None)
    return out


def seed_transfer(singles: dict[int, list[dict]], multis: dict[str, dict[int, dict]], level: float = 0.95) -> dict:
    """The transfer table over seeds.

    ``singles[seed]``: the single-task reports of that seed (each scores its own dataset);
    ``multis[method][seed]``: the multi-task report of that method and seed. Seeds present for the singles
    and a method are paired; a dataset missing from either side of a seed is listed in ``missing``.
    """
    single: dict[int, dict] = {}
    for seed, reports in singles.items():
        single[seed] = {}
        for report in reports:
            single[seed].update(_headlines(report))
    rows: dict[tuple[str, str], dict] = {}
    missing: list[str] = []
    summary = {}
    for method, by_seed in multis.items():
        seeds = sorted(set(by_seed) & set(single))
        if not seeds:
            raise ValueError(f"seed_transfer: method {method!r} shares no seed with the single-task runs")
        diffs: dict[tuple[str, str], list[float]] = {}
        for seed in seeds:
            multi = _headlines(by_seed[seed])
            for key, (s, higher, width) in single[seed].items():
                if key not in multi:
                    missing.append(f"{method} seed {seed}: {key[0]} ({key[1]})")
                    continue
                d = multi[key][0] - s if higher else s - multi[key][0]
                diffs.setdefault(key, []).append(d)
                row = rows.setdefault(
                    key,
                    {
                        "dataset": key[0],
                        "metric": key[1],
                        "higher_is_better": higher,
                        "band_width": width,
                        "single": {},
                        "methods": {},
                    },
                )
                row["single"][str(seed)] = s
                row["methods"].setdefault(method, {"multi": {}})["multi"][str(seed)] = multi[key][0]
        n_pos = n_neg = n_sig_pos = n_sig_neg = 0
        scaled = []
        for key, ds in diffs.items():
            mean, lo, hi = t_interval(ds, level)
            sig = None if lo is None else ("+" if lo > TOLERANCE else "-" if hi < -TOLERANCE else "0")
            rows[key]["methods"][method].update(
                {"diffs": ds, "mean_diff": mean, "low": lo, "high": hi, "significant": sig}
            )
            n_pos += mean > TOLERANCE
            n_neg += mean < -TOLERANCE
            n_sig_pos += sig == "+"
            n_sig_neg += sig == "-"
            if rows[key]["band_width"]:
                scaled.append(mean / rows[key]["band_width"])
        n = len(diffs)
        summary[method] = {
            "seeds": seeds,
            "datasets": n,
            "positive": n_pos,
            "negative": n_neg,
            "positive_share": n_pos / n if n else None,
            "significant_positive": n_sig_pos,
            "significant_negative": n_sig_neg,
            "mean_transfer_bands": sum(scaled) / len(scaled) if scaled else None,
        }
    ordered = [rows[k] for k in sorted(rows)]
    return {
        "level": level,
        "methods": summary,
        "rows": ordered,
        "missing": missing,
        "headline": {m: s["positive_share"] for m, s in summary.items()},
    }


def render_seed_transfer(table: dict) -> str:
    """The Markdown table: per dataset and method, mean difference [interval] and its significance."""
    methods = list(table["methods"])
    level = round(100 * table["level"])
    head = "| dataset | metric | single (mean) | " + " | ".join(f"{m}: multi − single [{level} % CI]" for m in methods)
    lines = [
        "# Transfer over seeds",
        "",
        "Positive = multi-task better than single-task (sign flipped where lower is better); the interval is "
        f"the {level} % t-interval over seeds; ✚/✖: it excludes zero.",
        "",
        head + " |",
        "|---|---|---:|" + "---:|" * len(methods),
    ]

    def cell(m: dict | None) -> str:
        if not m or "mean_diff" not in m:
            return "-"
        mark = {"+": " ✚", "-": " ✖"}.get(m.get("significant") or "", "")
        ci = f" [{m['low']:+.3f}, {m['high']:+.3f}]" if m.get("low") is not None else ""
        return f"{m['mean_diff']:+.3f}{ci}{mark}"

    for row in table["rows"]:
        s = list(row["single"].values())
        lines.append(
            f"| {row['dataset']} | {row['metric']} | {sum(s) / len(s):.3f} | "
            + " | ".join(cell(row["methods"].get(m)) for m in methods)
            + " |"
        )
    lines += [
        "",
        "| method | seeds | positive share | significant + | significant − | mean transfer (band widths) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for m, s in table["methods"].items():
        mt = "-" if s["mean_transfer_bands"] is None else f"{s['mean_transfer_bands']:+.2f}"
        lines.append(
            f"| {m} | {', '.join(map(str, s['seeds']))} | {s['positive']} of {s['datasets']} "
            f"({100 * (s['positive_share'] or 0):.0f} %) | {s['significant_positive']} | "
            f"{s['significant_negative']} | {mt} |"
        )
    return "\n".join(lines) + "\n"


def bands_above_chance(report: Report | dict) -> float | None:
    """A report's mean, over datasets with a chance band, of (score - chance) / (band - chance): how many
    band widths above guessing its headline scores sit (sign flipped where lower is better)."""
    values = []
    for row in _report(report).datasets.values():
        score, mean, band = row.primary, row.chance.primary, row.chance.band
        if score is None or mean is None or band is None or abs(band - mean) < TOLERANCE:
            continue
        values.append((score - mean) / (band - mean))  # a lower-is-better band lies below its mean: sign flips
    return sum(values) / len(values) if values else None
