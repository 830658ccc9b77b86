"""The transfer-over-seeds figure: per dataset, each multi-task method's mean difference from single-task with
its 95 % interval over seeds (``crabplus.evaluate.seeds``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

COLOURS = {"ilora": "#1b7837", "lora": "#b2182b", "lora_same_rank": "#ef8a62"}
NAMES = {
    "ilora": "multi-task I-LoRA",
    "lora": "multi-task LoRA (matched parameters)",
    "lora_same_rank": "multi-task LoRA (same rank)",
}


def plot_seed_transfer(table: dict, path: str | Path) -> Path | None:
    """Horizontal points with error bars: multi minus single per dataset row, one colour per method; the title
    gives each method's positive share."""
    rows, methods = table["rows"], list(table["methods"])
    if not rows or not methods:
        return None
    fig = Figure(figsize=(8, 1.4 + 0.36 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    offsets = np.linspace(-0.2, 0.2, len(methods)) if len(methods) > 1 else [0.0]
    for off, method in zip(offsets, methods):
        cells = [r["methods"].get(method, {}) for r in rows]
        mean = np.array([c.get("mean_diff", np.nan) for c in cells], dtype=float)
        lo = np.array([c["low"] if c.get("low") is not None else np.nan for c in cells], dtype=float)
        hi = np.array([c["high"] if c.get("high") is not None else np.nan for c in cells], dtype=float)
        err = np.vstack([mean - lo, hi - mean])
        share = table["methods"][method]["positive_share"] or 0.0
        ax.errorbar(
            mean,
            y + off,
            xerr=np.where(np.isnan(err), 0, err),
            fmt="o",
            ms=4,
            capsize=2,
            color=COLOURS.get(method, "grey"),
            label=f"{NAMES.get(method, method)}: positive on {100 * share:.0f} %",
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{r['dataset']} ({r['metric']})" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(
        "multi-task minus single-task, headline metric (sign flipped where lower is better); "
        "bars: 95 % interval over seeds",
        fontsize=8,
    )
    seeds = sorted({s for m in table["methods"].values() for s in m["seeds"]})
    ax.set_title(f"Transfer over {len(seeds)} seed(s): right of 0 = multi-task training helped", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=len(methods), fontsize=7)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
