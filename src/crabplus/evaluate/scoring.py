"""Structured predictions + records -> the official metric of one dataset (``DatasetSpec.metric``).

Each dataset is scored by its answer family (``crabplus.tasks.families``: the conventions, e.g. how events
become per-second segments or how an unparsed answer counts, are stated in each family's docstring). This
module is the front door the reports call for the non-spatial families; the spatial ones (masks and boxes)
go through :mod:`crabplus.evaluate.segscore`, which reads frames and runs the segmenter. Shared rules:

- labels, free answers and options are compared after :func:`~crabplus.tasks.normalize.normalize_answer`;
- an unparsed prediction is wrong: no label/choice (never equal), AVE segments that match no
  class, no UnAV detection, an AVVP video scored 0 on every F, an empty caption.
"""

from __future__ import annotations

from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Record
from crabplus.schema.registry import DatasetSpec
from crabplus.tasks.families import Score, ScoreConfig, family_of
from crabplus.tasks.families.base import LOWER_IS_BETTER, higher_is_better

__all__ = ["LOWER_IS_BETTER", "Score", "higher_is_better", "score_simple"]


def score_simple(spec: DatasetSpec, records: list[Record], preds: list[Prediction], *, meteor: bool = True) -> Score:
    """The metric of a non-segmentation dataset over aligned ``records`` and ``preds`` (its family's)."""
    return family_of(spec).score(records, preds, ScoreConfig(meteor=meteor))
