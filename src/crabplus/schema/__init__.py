"""crabplus.schema: the types every other part speaks, at the bottom of the package.

``registry`` (the 19 datasets: task type, media layout, instruction, answer fields, answer family),
``perception`` (the base stage's corpus layouts), ``records`` (the unified record: ``Record``, ``Answer``, ``Event``,
``Media``, with validation and JSON Lines IO), ``prediction`` (the answer read from generated text), ``geometry`` (the
224-pixel space and the one mask -> box + 3 points rule), ``rows`` (``PredictionRow``: one line of a prediction file),
``report`` (``Report``, ``DatasetScore``, ``TransferTable``: typed views of ``report.json`` / ``transfer.json``) and
``tokens`` (the chat layout's special tokens by role, read by the processor and the model builder
alike). It imports nothing of crabplus above ``utils`` (tests/test_layering.py).
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "registry": (
            "DATASETS",
            "RELEASE_DATASETS",
            "TASK_TYPES",
            "DatasetSpec",
            "dataset_names",
            "get_spec",
            "register_dataset",
            "unregister_dataset",
        ),
        "perception": ("PERCEPTION_SPECS", "PERCEPTION_TASK", "is_perception"),
        "records": ("Record", "Answer", "Event", "Media", "RecordError", "load_records", "write_records"),
        "geometry": ("SPACE", "clip_box", "clip_point", "mask_box_points"),
        "rows": ("PredictionRow",),
        "report": ("REPORT_FORMAT", "Report", "DatasetScore", "ReportError", "TransferRow", "TransferTable"),
        "prediction": ("Prediction",),
    },
)
