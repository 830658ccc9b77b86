"""A seeded chance predictor per dataset, built from the evaluated records' own answer vocabulary.

Every score in a report sits beside the same metric on this predictor, so a reader sees what
"nothing learned" gives on exactly these records (a 2-way match is 0.5, a 6-way emotion 1/6, a
mask from a random box is whatever the box prior earns). It draws uniformly:

- a label / free answer from the distinct ground-truth answers; a choice from the candidates
  (matching: 1 or 2; multiple choice: the record's options);
- AVE / UnAV: one event with a random label and a random whole-second range inside the clip;
  AVVP: one such event per modality;
- captions: another record's reference caption (a retrieval baseline);
- S4 / MS3 / ARIG: a ground-truth box of another record (the box prior) with three random points
  inside it; Ref-AVS: "exists" at random, then such a box.

Seeded by ``seed``, the dataset name and the draw number, so a report is reproducible. One draw on
25 records is a noisy number (a 2-way match lands anywhere in 0.3-0.7), so a report scores several
draws (:func:`chance_summary`): their mean is the chance level, and a score beyond the draws' 95th
percentile (5th for lower-is-better metrics) is one chance rarely reaches.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from crabplus.evaluate.scoring import higher_is_better
from crabplus.schema.geometry import SPACE
from crabplus.schema.records import Event, Record
from crabplus.schema.registry import DatasetSpec
from crabplus.tasks.normalize import normalize_answer
from crabplus.tasks.parsers import Prediction

MIN_SECONDS = 10


def _vocab(values) -> list[str]:
    """Distinct answers (one spelling per normalised form, first seen), in a stable order."""
    seen: dict[str, str] = {}
    for v in values:
        if v and normalize_answer(v) not in seen:
            seen[normalize_answer(v)] = v
    return [seen[k] for k in sorted(seen)]


def _span(records: list[Record], fields: tuple[str, ...]) -> int:
    ends = [ev.end for r in records for f in fields for ev in (getattr(r.answer, f) or [])]
    return max(MIN_SECONDS, math.ceil(max(ends))) if ends else MIN_SECONDS


def _event(rng: np.random.Generator, labels: list[str], seconds: int) -> Event:
    start, end = sorted(rng.choice(seconds + 1, size=2, replace=False).tolist())
    return Event(labels[int(rng.integers(len(labels)))], float(start), float(end))


def _points_in(rng: np.random.Generator, box: list[int]) -> list[list[int]]:
    x1, y1, x2, y2 = box
    return [[int(rng.integers(x1, max(x1 + 1, min(x2, SPACE)))), int(rng.integers(y1, max(y1 + 1, min(y2, SPACE))))]
            for _ in range(3)]


def _random_box(rng: np.random.Generator) -> list[int]:
    x1, x2 = sorted(rng.choice(225, size=2, replace=False).tolist())
    y1, y2 = sorted(rng.choice(225, size=2, replace=False).tolist())
    return [x1, y1, x2, y2]


def chance_predictions(spec: DatasetSpec, records: list[Record], seed: int = 0, draw: int = 0) -> list[Prediction]:
    """One chance :class:`Prediction` per record (all parsed); ``draw`` numbers independent draws."""
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode()), draw])
    name, task = spec.name, spec.task
    out: list[Prediction] = []
    labels = _vocab(r.answer.label for r in records)

    def others(values: list, i: int) -> list:
        """The values of the other records (a record's own answer is no chance guess)."""
        kept = [v for j, v in enumerate(values) if j != i and v is not None]
        return kept or [v for v in values if v is not None]

    def pick(items):
        return items[int(rng.integers(len(items)))] if items else None

    ev_labels: list[str] = []
    seconds = MIN_SECONDS
    if name in ("ave", "unav"):
        ev_labels = _vocab(ev.label for r in records for ev in r.answer.events or [])
        seconds = _span(records, ("events",))
    if name == "avvp":
        ev_labels = _vocab(ev.label for r in records for f in ("audio_events", "visual_events")
                           for ev in getattr(r.answer, f) or [])
        seconds = _span(records, ("audio_events", "visual_events"))
    texts = _vocab(r.answer.text for r in records)
    boxes = [r.answer.box for r in records]
    captions = [r.answer.text for r in records]
    for i, rec in enumerate(records):
        p = Prediction(parsed=True, release_valid=True)
        if task in ("action", "emotion"):
            p.label = pick(labels)
        elif task == "matching":
            p.choice = int(rng.integers(1, 3))
        elif name == "avqa":
            p.text = pick(texts)
        elif name == "avqa_thu":
            p.choice = int(rng.integers(len(rec.answer.options or [""])))
        elif name in ("ave", "unav"):
            p.events = [_event(rng, ev_labels, seconds)] if ev_labels else []
        elif name == "avvp":
            p.audio_events = [_event(rng, ev_labels, seconds)] if ev_labels else []
            p.visual_events = [_event(rng, ev_labels, seconds)] if ev_labels else []
        elif name == "avcap":
            p.text = pick(others(captions, i))
        elif task == "segmentation":
            p.label = pick(labels)
            if name == "ref_avs":
                p.exists = bool(rng.integers(2))
            if name != "ref_avs" or p.exists:
                pool = others(boxes, i)
                p.box = list(pick(pool)) if pool else _random_box(rng)
                p.points = _points_in(rng, p.box) if name != "arig" else None
        out.append(p)
    return out


BAND_QUANTILE = 0.95


def chance_summary(scores: list) -> dict:
    """The chance entry of a report row from the scores of several draws (``Score`` objects).

    ``metrics``: each metric's mean over the draws (the chance level); ``bands``: each metric's 95th
    percentile over the draws (5th when lower is better), the edge a score must pass to be "beyond
    chance"; ``band``: the primary metric's; ``draws``: how many.
    """
    first = scores[0]
    names = [m for m in first.metrics if all(m in s.metrics and s.metrics[m] is not None for s in scores)]
    metrics = {m: float(np.mean([s.metrics[m] for s in scores])) for m in names}
    bands = {m: float(np.quantile([s.metrics[m] for s in scores],
                                  BAND_QUANTILE if higher_is_better(m) else 1.0 - BAND_QUANTILE)) for m in names}
    return {"n": first.n, "primary_metric": first.primary_metric, "primary": metrics.get(first.primary_metric),
            "metrics": metrics, "band": bands.get(first.primary_metric), "bands": bands,
            "band_quantile": BAND_QUANTILE, "draws": len(scores)}


def beyond_chance(score: float | None, chance: dict, metric: str | None = None) -> bool | None:
    """Whether ``score`` passes the chance draws' band of ``metric`` (default: the primary metric), in the
    metric's own direction; None when either is missing."""
    metric = metric or chance.get("primary_metric")
    band = chance.get("bands", {}).get(metric) if metric else None
    if score is None or band is None:
        return None
    return score > band if higher_is_better(metric) else score < band
