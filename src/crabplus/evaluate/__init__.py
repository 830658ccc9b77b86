"""crabplus.evaluate: scoring prediction runs, reports (JSON + Markdown + plots), the transfer table.

``evaluate_predictions(records, predictions, root, segmenter=..., out_dir=...)`` -> report dict;
``write_report(report, out_dir)``; ``transfer_table(single_reports, multi_report, baseline_report)``.
Names are imported lazily: ``crabplus.config.run`` imports ``evaluate.config``, and loading a config
should not pull in the metrics, OpenCV and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EvalConfig": "config",
    "PredictionRow": "inputs",
    "default_root": "inputs",
    "load_eval_records": "inputs",
    "load_predictions": "inputs",
    "evaluate_predictions": "report",
    "write_report": "report",
    "TransferError": "transfer",
    "load_run_report": "transfer",
    "transfer_table": "transfer",
    "write_transfer": "transfer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crabplus.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"crabplus.evaluate.{module}"), name)
