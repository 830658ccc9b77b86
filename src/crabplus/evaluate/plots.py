"""Report figures (matplotlib PNG): scores beside chance, routing heatmaps, the transfer chart.

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas directly (no pyplot), so
plotting neither changes the global backend nor needs a display, and is safe inside other programs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from crabplus.schema.report import Report, RoutingSummary, TransferTable
from crabplus.utils.io import atomic_write

OURS, CHANCE, RELEASE = "#1f77b4", "#bbbbbb", "#ff7f0e"
SCALE = {"cider": 0.1}
POSITIVE, NEGATIVE, BASELINE = "#2ca02c", "#d62728", "#9467bd"


def _save(fig: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(fig)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))


def plot_scores(report: Report | dict, path: str | Path) -> Path | None:
    """Per dataset: the headline score (ours, the release's convention) beside chance."""
    report = report if isinstance(report, Report) else Report.from_json(report)
    rows = [r for r in report.datasets.values() if r.primary is not None]
    if not rows:
        return None
    # CIDEr lives on 0..10; drawn /10 so that every bar shares the 0..1 axis
    scale = [SCALE.get(r.primary_metric, 1.0) for r in rows]
    names = [
        f"{r.dataset}  {r.primary_metric}{'/10' if s != 1.0 else ''}"
        f"{' (lower better)' if not r.higher_is_better else ''}"
        for r, s in zip(rows, scale)
    ]

    def values(get) -> np.ndarray:
        return np.array([np.nan if get(r) is None else s * get(r) for r, s in zip(rows, scale)], dtype=float)

    ours = values(lambda r: r.primary)
    chance = values(lambda r: r.chance.primary)
    band = values(lambda r: r.chance.band)
    release = values(lambda r: r.release.primary)
    y = np.arange(len(rows))
    fig = Figure(figsize=(8.5, 1.2 + 0.42 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(y - 0.27, ours, 0.27, color=OURS, label="ours (unparsed = wrong)")
    ax.barh(y, release, 0.27, color=RELEASE, label="release convention (unparsed dropped)")
    ax.barh(y + 0.27, chance, 0.27, color=CHANCE, label="chance (same metric, mean of draws)")
    if not np.isnan(band).all():
        ax.plot(
            band,
            y + 0.27,
            linestyle="none",
            marker="|",
            markersize=9,
            color="black",
            label="chance band (95th percentile of draws)",
        )
    for yi, v, s in zip(y, ours, scale):
        ax.text(v, yi - 0.27, f" {v / s:.3f}", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("score (headline metric of each dataset)")
    ax.set_title("Per-dataset headline score vs chance")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=7)
    return _save(fig, path)


def plot_routing(summary: RoutingSummary | None, path: str | Path) -> Path | None:
    """One heatmap per task type: each head's (columns) mean router weight in each layer (rows) as its deviation
    from uniform (1/N), on a symmetric scale set by the largest deviation, so that small differences between
    task types show (on a 0-1 scale a router near 1/N everywhere reads as one flat colour)."""
    if summary is None:
        return None
    tasks = list(summary.tasks)
    layers = summary.layers
    uniform = 1.0 / summary.num_heads
    scale = max(float(np.abs(np.array(summary.tasks[t].mean) - uniform).max()) for t in tasks) or 1e-6
    fig = Figure(figsize=(1.6 + 2.2 * len(tasks), 1.8 + min(0.16 * len(layers), 12)), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    image = None
    for ax, task in zip(axes, tasks):
        matrix = np.array(summary.tasks[task].mean) - uniform  # [L, N]
        image = ax.imshow(matrix, aspect="auto", vmin=-scale, vmax=scale, cmap="RdBu_r", interpolation="nearest")
        ax.set_title(f"{task}\n(n={summary.tasks[task].n})", fontsize=8)
        ax.set_xticks(range(matrix.shape[1]), [f"h{i}" for i in range(matrix.shape[1])], fontsize=7)
        step = max(1, len(layers) // 24)
        if ax is axes[0]:
            ax.set_yticks(range(0, len(layers), step), [layers[i] for i in range(0, len(layers), step)], fontsize=6)
        else:
            ax.set_yticks([])
    fig.colorbar(image, ax=list(axes), shrink=0.8, label=f"mean router weight − 1/{summary.num_heads}")
    fig.suptitle("I-LoRA routing: each head's mean weight minus uniform, per layer, per task type", fontsize=9)
    return _save(fig, path)


def plot_transfer(table: TransferTable | dict, path: str | Path) -> Path | None:
    """Relative change of multi-task over single-task per dataset (positive = transfer helps)."""
    table = table if isinstance(table, TransferTable) else TransferTable.from_json(table)
    rows = [r for r in table.rows if r.relative_change is not None]
    if not rows:
        return None
    y = np.arange(len(rows))
    rel = np.array([100 * r.relative_change for r in rows])
    has_base = any(r.baseline_relative_change is not None for r in rows)
    fig = Figure(figsize=(8, 1.2 + 0.4 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    height = 0.38 if has_base else 0.7
    ax.barh(y - (height / 2 if has_base else 0), rel, height, color=[POSITIVE if v > 0 else NEGATIVE for v in rel])
    multi = table.multi_name
    handles = [
        Patch(color=POSITIVE, label=f"{multi} better than single-task"),
        Patch(color=NEGATIVE, label=f"{multi} worse than single-task"),
    ]
    if has_base:
        base = np.array(
            [np.nan if r.baseline_relative_change is None else 100 * r.baseline_relative_change for r in rows]
        )
        ax.barh(y + height / 2, base, height, color=BASELINE, alpha=0.7)
        baseline = table.baseline_name or "baseline"
        handles.append(Patch(color=BASELINE, alpha=0.7, label=f"{baseline} vs single-task"))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{r.dataset} ({r.metric})" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("relative change of the headline metric, % (sign flipped where lower is better)")
    share = table.positive_share
    ax.set_title(
        f"Transfer: multi-task vs single-task (positive on {100 * share:.0f}% of rows)"
        if share is not None
        else "Transfer: multi-task vs single-task"
    )
    ax.grid(axis="x", alpha=0.3)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7)
    return _save(fig, path)
