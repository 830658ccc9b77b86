"""How much I-LoRA's routing differs between task types: one number per run, and deviations to plot.

From a report's routing summary (``crabplus.evaluate.routing.routing_summary``: per task type, the mean
router weight of each head in each layer):

- ``deviation``: the mean weight minus the uniform 1/N, per task type, layer and head — the paper's figure
  shows this, since the raw weights of a router that has barely moved all read 1/N on a 0-1 scale;
- ``mean_js``: the Jensen-Shannon divergence (natural log, so between 0 and ln 2) between two task types'
  mean routing in one layer, averaged over the layers and over every pair of task types. 0 means every task
  type uses the heads alike; routing that specialises by task raises it.
"""

from __future__ import annotations

import itertools

import numpy as np

from crabplus.schema.report import RoutingSummary


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence of two distributions over heads (natural log)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def routing_divergence(summary: RoutingSummary | None) -> dict | None:
    """``{"mean_js", "pairs": {"a|b": js}, "max_abs_deviation", "deviation": {task: [[…]]}, …}``; None without
    routing."""
    if summary is None:
        return None
    heads = summary.num_heads
    means = {t: np.array(v.mean, dtype=np.float64) for t, v in summary.tasks.items()}  # [L, N] each
    pairs = {}
    for a, b in itertools.combinations(sorted(means), 2):
        pairs[f"{a}|{b}"] = float(np.mean([js_divergence(pa, pb) for pa, pb in zip(means[a], means[b])]))
    deviation = {t: (m - 1.0 / heads).round(6).tolist() for t, m in means.items()}
    max_dev = max((float(np.abs(m - 1.0 / heads).max()) for m in means.values()), default=0.0)
    return {
        "num_heads": heads,
        "layers": summary.layers,
        "tasks": sorted(means),
        "mean_js": float(np.mean(list(pairs.values()))) if pairs else None,
        "pairs": pairs,
        "max_abs_deviation": max_dev,
        "deviation": deviation,
    }
