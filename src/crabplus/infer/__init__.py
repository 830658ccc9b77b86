"""Prediction: over records for evaluation (:func:`predict_records`) and on one's own video (:func:`predict`).

Names are imported lazily so that ``import crabplus.infer`` stays cheap for the CLI's ``--help``.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "crabplus.infer.batch": ("predict_batch", "predict_records", "write_predictions"),
    "crabplus.infer.predictor": ("Predictor", "as_predictor", "trained_image_size"),
    "crabplus.infer.single": ("PredictInputError", "PredictResult", "build_record", "predict", "write_mask"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'crabplus.infer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
