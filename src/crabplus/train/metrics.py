"""Training logs: loss per task (token-weighted, summed over ranks), routing statistics, JSONL.

Per-task loss is what shows interference between tasks while training; it is accumulated per
dataset as (sum of token losses, token count) and reduced across ranks with one all-reduce of a
(D, 3) tensor, so every rank agrees on the numbers and the main rank writes them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from crabplus.utils.io import atomic_write_text

log = logging.getLogger(__name__)


class TaskLossMeter:
    """Sums of token loss, token count and sample count per dataset since the last reset."""

    def __init__(self, datasets: list[str]):
        self.datasets = list(datasets)
        self.index = {d: i for i, d in enumerate(self.datasets)}
        self.sums = torch.zeros(len(self.datasets), 3, dtype=torch.float64)  # (D, [loss, tokens, samples])

    def add(self, datasets: list[str], loss_sum: torch.Tensor, count: torch.Tensor) -> None:
        """``loss_sum`` (B,) and ``count`` (B,) of one micro-batch whose samples are ``datasets``."""
        for name, loss, n in zip(datasets, loss_sum.detach().double().cpu().tolist(), count.cpu().tolist()):
            row = self.sums[self.index[name]]
            row[0] += loss
            row[1] += n
            row[2] += 1

    def reduce(self, engine) -> dict[str, Any]:
        """Global numbers over all ranks: mean loss, per-task mean loss, token and sample counts."""
        sums = engine.all_reduce_sum(self.sums).cpu()
        total_loss, total_tokens, total_samples = sums.sum(dim=0).tolist()
        per_task = {d: sums[i, 0].item() / sums[i, 1].item() for d, i in self.index.items() if sums[i, 1] > 0}
        return {
            "loss": total_loss / max(total_tokens, 1.0),
            "loss_per_task": per_task,
            "tokens": int(total_tokens),
            "samples": int(total_samples),
            "samples_per_task": {d: int(sums[i, 2]) for d, i in self.index.items() if sums[i, 2] > 0},
        }

    def reset(self) -> None:
        self.sums.zero_()


def routing_means(per_sample: list[dict[Any, list[float]]], datasets: list[str]) -> dict[str, list[float]]:
    """Mean router weight per expert for each dataset, averaged over its samples and all layers.

    ``per_sample`` is :meth:`crabplus.adapters.RoutingRecorder.summary`'s output: for each sample
    ``{layer: [w_0, …, w_{N-1}]}``.
    """
    acc: dict[str, list[torch.Tensor]] = {}
    for name, layers in zip(datasets, per_sample):
        if not layers:
            continue
        acc.setdefault(name, []).append(torch.tensor(list(layers.values()), dtype=torch.float64).mean(dim=0))
    return {d: torch.stack(v).mean(dim=0).tolist() for d, v in sorted(acc.items())}


class MetricsLog:
    """``metrics.jsonl`` in the run folder: one JSON object per logged step, main rank only.

    On resume the rows after the checkpoint's step are dropped first, so the file reads as one run.
    """

    def __init__(self, path: str | Path, *, enabled: bool, resume_step: int | None = None):
        self.path = Path(path)
        self.enabled = enabled
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("", encoding="utf-8")
        elif self.path.is_file():
            kept = [json.dumps(row) for row in read_metrics(self.path) if row.get("step", 0) <= resume_step]
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` (for reports, resume and tests). A line that is not a JSON
    object (the torn last line of a killed run, or damage) is dropped with a note naming it."""
    rows = []
    raw = Path(path).read_bytes().decode("utf-8", errors="replace")
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            log.warning("%s:%d: dropped a line that is not a whole JSON object (a run killed mid-write?)", path, lineno)
            continue
        rows.append(row)
    return rows
