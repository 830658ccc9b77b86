"""The one protocol every answer family implements, and the pieces the families share.

An answer family is one answer *shape* (a label, a choice, events with ranges, a box, ...). Each
:class:`~crabplus.schema.registry.DatasetSpec` names its family (``spec.family``); :func:`crabplus.tasks.families.
family_of` binds the family's class to the spec. Nothing branches on the dataset name; code asks the bound
family:

- ``render(answer) -> str``: the tagged answer text the model learns to write;
- ``parse(text, options) -> Prediction``: the inverse, lenient where the meaning is clear (never raises on text:
  :func:`crabplus.tasks.parsers.parse_prediction` guards it);
- ``release_valid(text) -> bool``: whether the release's own, stricter parser would accept the text;
- ``score(records, predictions, cfg) -> Score``: the official metric (``spec.metric``) over aligned lists;
- ``chance(records, rng) -> list[Prediction]``: one seeded chance guess per record (all parsed);
- ``primary_metric`` and ``higher_is_better``: the headline number and its direction.

Rules every family keeps when scoring: labels, free answers and options are compared after
:func:`~crabplus.tasks.normalize.normalize_answer`, and an unparsed prediction is wrong (no label or choice, never
equal; AVE segments that match no class; no UnAV detection; an AVVP video scored 0 on every F; an empty caption).

A new benchmark whose answers have a shape we already have is one registry row naming one of these families.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.schema.registry import DatasetSpec
from crabplus.tasks.normalize import normalize_answer

#: metrics where lower is better (everything else: higher is better)
LOWER_IS_BETTER = frozenset({"null_s", "null_s_per_sample"})


def higher_is_better(metric: str) -> bool:
    """The direction of ``metric`` (a name such as ``miou`` or ``fscore/test_s``)."""
    return metric.split("/")[0] not in LOWER_IS_BETTER


@dataclass
class Score:
    """One dataset's numbers under one convention (ours, release or chance)."""

    metrics: dict[str, float]
    primary_metric: str | None
    n: int
    notes: list[str] = field(default_factory=list)

    @property
    def primary(self) -> float | None:
        return self.metrics.get(self.primary_metric) if self.primary_metric else None

    def to_json(self) -> dict:
        return {"n": self.n, "primary_metric": self.primary_metric, "primary": self.primary, "metrics": self.metrics}


class MaskSource(Protocol):
    """What the spatial families read media through (``crabplus.evaluate.segscore.SegmentationScorer``): tasks
    never decode media. ``cache`` is one record's, so its frame is read once whatever the number of predictions."""

    def frame(self, record: Record, size_hw, cache: dict) -> np.ndarray:
        """uint8 [H, W, 3]: the record's frame (at ``size_hw``, the ground-truth mask's size, when given)."""

    def mask(self, record: Record, pred: Prediction, size_hw, cache: dict) -> np.ndarray:
        """bool [H, W]: the segmenter's mask for the predicted box and points."""

    def stats(self, family: Family, record: Record, preds: list[Prediction]) -> list[Any]:
        """``family.frame_stats`` of each prediction for one record, reading its media once."""


@dataclass
class ScoreConfig:
    """What scoring needs beyond records and predictions.

    ``meteor``: run the METEOR jar for captions; ``frames_per_batch``: consecutive S4/MS3 frames per J and F call;
    ``masks``: for the spatial families, the object that reads a record's frame and ground-truth mask and turns
    a box + points into a mask (``crabplus.evaluate.segscore.SegmentationScorer``; tasks never decode media).
    """

    meteor: bool = True
    frames_per_batch: int = 20
    masks: MaskSource | None = None


class Family:
    """One answer family bound to one dataset's spec (see the module docstring for the protocol)."""

    #: the family's name in ``DatasetSpec.family``
    name: str = ""
    #: the :class:`Answer` fields the family writes in a target and reads back
    fields: tuple[str, ...] = ()
    #: True for the families scored on frames and masks (their ``score`` needs ``cfg.masks``)
    spatial: bool = False
    #: True when an answer becomes a mask (the segmenter prompted with its box and points): prediction writes one,
    #: scoring reads the ground-truth mask
    segments: bool = False
    #: metrics reported as headlines beside the primary one when present (Ref-AVS's null-set S)
    extra_headlines: tuple[str, ...] = ()

    def __init__(self, spec: DatasetSpec):
        self.spec = spec

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.name!r})"

    # --- text ------------------------------------------------------------------------------------
    def render(self, answer: Answer) -> str:
        raise NotImplementedError

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        raise NotImplementedError

    def to_answer(self, prediction: Prediction, options: list[str] | None) -> Answer:
        """The :class:`Answer` a parsed ground-truth text states (how importers recover structured answers)."""
        return prediction.to_answer(options=options)

    def release_valid(self, text: str) -> bool:
        """The release never parsed this family's answers: valid exactly when we can read one."""
        return self.parse(text).parsed

    # --- numbers ---------------------------------------------------------------------------------
    #: ``spec.metric`` -> the headline metric it reports; a spec naming a metric not here is an error
    primary_metrics: dict[str, str] = {}

    @property
    def primary_metric(self) -> str:
        if self.spec.metric not in self.primary_metrics:
            raise self._unknown_metric()
        return self.primary_metrics[self.spec.metric]

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.primary_metric)

    def score(self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig | None = None) -> Score:
        """The official metric over aligned ``records`` and ``predictions``; no records: an empty score. A spec
        naming a metric the family has no scorer for is an error before anything is computed."""
        primary = self.primary_metric
        cfg = cfg or ScoreConfig()
        notes: list[str] = []
        if not records:
            return Score({}, primary, 0, notes)
        metrics = self.metrics(records, predictions, cfg, notes)
        if not metrics:
            notes.append("no ground-truth events: nothing to score")
        return Score(metrics, primary, len(records), notes)

    def score_conventions(
        self,
        records: list[Record],
        predictions: list[Prediction],
        draws: list[list[Prediction]],
        keep: list[int],
        cfg: ScoreConfig | None = None,
    ) -> tuple[Score, Score, list[Score]]:
        """(ours, the release's, one per chance draw): ``predictions`` scored on every record, then on the records
        ``keep`` (those the release's parser accepts), and each of ``draws`` (aligned with ``records``)."""
        ours = self.score(records, predictions, cfg)
        release = self.score([records[i] for i in keep], [predictions[i] for i in keep], cfg)
        return ours, release, [self.score(records, guesses, cfg) for guesses in draws]

    def metrics(
        self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig, notes: list[str]
    ) -> dict[str, float]:
        raise NotImplementedError

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        raise NotImplementedError

    def _unknown_metric(self) -> KeyError:
        return KeyError(f"{self.spec.name}: the {self.name} family has no scorer for metric {self.spec.metric!r}")


# --- pieces the families share ---------------------------------------------------------------------


def normalized(values) -> list[str | None]:
    """Each value normalised (``normalize_answer``); missing ones stay None (never equal to anything)."""
    return [normalize_answer(v) if v else None for v in values]


def vocab(values) -> list[str]:
    """Distinct answers (one spelling per normalised form, first seen), in a stable order."""
    seen: dict[str, str] = {}
    for v in values:
        if v and normalize_answer(v) not in seen:
            seen[normalize_answer(v)] = v
    return [seen[k] for k in sorted(seen)]


def pick(rng: np.random.Generator, items: list):
    """One item drawn uniformly (one draw from ``rng``); None from an empty list (no draw)."""
    return items[int(rng.integers(len(items)))] if items else None


def others(values: list, i: int) -> list:
    """The values of the records other than ``i`` (a record's own answer is no chance guess)."""
    kept = [v for j, v in enumerate(values) if j != i and v is not None]
    return kept or [v for v in values if v is not None]


def guess() -> Prediction:
    """An empty chance guess: chance answers are always well formed."""
    return Prediction(parsed=True, release_valid=True)
