"""crabplus.evaluate: scoring prediction runs, reports (JSON + Markdown + plots), the transfer table.

``evaluate_predictions(records, predictions, root, segmenter=..., out_dir=...)`` -> ``Report``;
``write_report(report, out_dir)``; ``transfer_table(single_reports, multi_report, baseline_report)`` ->
``TransferTable`` (both types in :mod:`crabplus.schema.report`; ``.to_json()`` is the file's JSON).
Names are imported lazily: the demo and ``crabplus eval`` import ``evaluate.config``, and loading a config
should not pull in the metrics, OpenCV and matplotlib.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "config": ("EvalConfig",),
        "inputs": ("PredictionRow", "load_eval_records", "load_predictions"),
        "report": ("evaluate_predictions", "write_report"),
        "transfer": ("TransferError", "load_run_report", "transfer_table", "write_transfer"),
    },
)
