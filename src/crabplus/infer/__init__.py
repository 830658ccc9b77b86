"""Prediction: over records for evaluation (:func:`predict_records`) and on one's own video (:func:`predict`).

Names are imported lazily so that ``import crabplus.infer`` stays cheap for the CLI's ``--help``.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "batch": ("predict_batch", "predict_records", "write_predictions"),
        "predictor": ("Predictor", "as_predictor", "trained_image_size"),
        "single": ("PredictInputError", "PredictResult", "build_record", "predict", "write_mask"),
    },
)
