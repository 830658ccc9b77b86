"""Routing statistics of I-LoRA predictions: mean head weights per layer, per task type.

A prediction row may carry ``routing = {layer_name: [w_0, …, w_{N-1}]}`` (the router's weights for
that sample, averaged over its tokens by the predictor). Per task type we average over its samples;
the report keeps the layers x heads matrix and the plot draws it as a heatmap, which shows whether
tasks use different heads (the point of interaction-aware routing).
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from crabplus.schema.records import RecordError
from crabplus.schema.registry import DATASETS
from crabplus.schema.report import RoutingSummary, TaskRouting


def natural_key(name: str) -> list:
    """Sort ``layers.10`` after ``layers.9``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def routing_summary(rows) -> RoutingSummary | None:
    """Per task type, each head's mean router weight per layer (``tasks[task].mean[layer][head]``); None
    without routing.

    ``rows``: prediction rows (``.dataset``, ``.routing``). A row whose heads or layers disagree with
    the first routed row raises :class:`RecordError` naming it.
    """
    routed = [r for r in rows if r.routing]
    if not routed:
        return None
    layers = sorted(routed[0].routing, key=natural_key)
    heads = len(routed[0].routing[layers[0]])
    sums: dict[str, np.ndarray] = defaultdict(lambda: np.zeros((len(layers), heads)))
    counts: dict[str, int] = defaultdict(int)
    for row in routed:
        if sorted(row.routing, key=natural_key) != layers:
            raise RecordError(
                f"routing layers differ from those of prediction {routed[0].id!r}", record_id=row.id, field="routing"
            )
        matrix = np.array([row.routing[name] for name in layers], dtype=np.float64)  # [L, N]
        if matrix.shape != (len(layers), heads):
            raise RecordError(
                f"routing has {matrix.shape[1]} heads, expected {heads}", record_id=row.id, field="routing"
            )
        task = DATASETS[row.dataset].task
        sums[task] += matrix
        counts[task] += 1
    tasks = {t: TaskRouting(counts[t], (sums[t] / counts[t]).round(6).tolist()) for t in sorted(sums)}  # [L, N]
    return RoutingSummary(heads, layers, tasks)
