"""One line of a prediction file: what prediction writes and evaluation reads (``predictions.jsonl``).

Why a type: the row crosses the boundary between two parts (``infer`` writes it, ``evaluate``, ``lmms``
and the web view read it) and a user's own file may stand in for ours, so both sides speak this one
dataclass instead of plain dicts read by string keys, and a bad row fails on reading with the file,
line, id and field, as a bad record does (:class:`RecordError`).

On disk (JSON Lines, one object per line, keys in this order, the optional ones only when set)::

    {"id": "ks-test-00001", "dataset": "ks", "predict": "<generated text>",
     "prediction": {...}, "routing": {"model.layers.0.self_attn.q_proj": [0.2, 0.5, 0.3], ...},
     "source": "data/ks/test.jsonl", "notes": ["..."]}

- ``predict``: the generated text, the only thing evaluation scores (it parses the text itself);
- ``routing``: the I-LoRA router summary (each head's mean weight per layer over the prompt; ``{}`` when
  not recorded, absent or ``null`` in a hand-written file);
- ``prediction``: the structured answer ``crabplus predict`` parsed from the text, for a human reader;
- ``source``: the record or media file the row came from (``crabplus predict``);
- ``notes``: what prediction had to complete (a missing audio track replaced by silence, …).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from crabplus.schema.records import RecordError, open_object
from crabplus.schema.registry import DATASETS

#: Every key a row may hold, in the order :meth:`PredictionRow.to_json` writes them.
ROW_KEYS = ("id", "dataset", "predict", "prediction", "routing", "source", "notes")


@dataclass
class PredictionRow:
    """One line of a prediction file (see the module docstring)."""

    id: str
    dataset: str
    predict: str
    routing: dict[str, list[float]] | None = None
    prediction: dict[str, Any] | None = None
    source: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The row as written on disk: ``id``, ``dataset``, ``predict``, ``routing`` always; ``prediction``,
        ``source`` and ``notes`` only when set."""
        out: dict[str, Any] = {"id": self.id, "dataset": self.dataset, "predict": self.predict}
        if self.prediction is not None:
            out["prediction"] = self.prediction
        out["routing"] = self.routing
        if self.source is not None:
            out["source"] = self.source
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, obj: Any, *, file: str | None = None, line: int | None = None) -> PredictionRow:
        """Validate one decoded row; a :class:`RecordError` names the file, line, id and field."""
        return prediction_from_json(obj, file=file, line=line)


def _routing(routing: Any, where: dict[str, Any]) -> dict[str, list[float]]:
    if not isinstance(routing, dict):
        raise RecordError("expected {layer: [w_0, ..., w_N-1]}", field="routing", **where)
    sizes = set()
    for layer, weights in routing.items():
        ok = (
            isinstance(weights, list)
            and weights
            and all(
                isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) and w >= 0 for w in weights
            )
        )
        if not ok:
            raise RecordError(
                f"expected a non-empty list of finite weights >= 0, got {weights!r}", field=f"routing.{layer}", **where
            )
        sizes.add(len(weights))
    if len(sizes) > 1:
        raise RecordError(f"layers disagree on the number of heads: {sorted(sizes)}", field="routing", **where)
    return {str(k): [float(w) for w in v] for k, v in routing.items()}


def prediction_from_json(obj: Any, *, file: str | None = None, line: int | None = None) -> PredictionRow:
    """Validate one decoded prediction row; raise :class:`RecordError` naming what is wrong."""
    where: dict[str, Any] = {"file": file, "line": line}
    rid = open_object(obj, "prediction", ROW_KEYS, where)
    dataset = obj.get("dataset")
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise RecordError(f"unknown dataset {dataset!r}", field="dataset", **where)
    predict = obj.get("predict")
    if not isinstance(predict, str):
        raise RecordError(f"expected the generated text, got {type(predict).__name__}", field="predict", **where)
    routing = obj.get("routing")
    prediction = obj.get("prediction")
    if prediction is not None and not isinstance(prediction, dict):
        raise RecordError(
            f"expected the parsed answer as an object, got {type(prediction).__name__}", field="prediction", **where
        )
    source = obj.get("source")
    if source is not None and not isinstance(source, str):
        raise RecordError(f"expected a file name, got {type(source).__name__}", field="source", **where)
    notes = obj.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise RecordError(f"expected a list of strings, got {notes!r}", field="notes", **where)
    return PredictionRow(
        rid,
        dataset,
        predict,
        _routing(routing, where) if routing is not None else None,
        prediction,
        source,
        list(notes),
    )
