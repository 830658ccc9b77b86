"""A seeded chance predictor per dataset, built from the evaluated records' own answer vocabulary.

Each answer family draws its own guesses (``Family.chance``, ``crabplus.tasks.families``); this module seeds
them and summarises several draws.

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

import zlib

import numpy as np

from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Record
from crabplus.tasks.families import Family, higher_is_better


def chance_predictions(family: Family, records: list[Record], seed: int = 0, draw: int = 0) -> list[Prediction]:
    """One chance :class:`Prediction` per record (all parsed) from the dataset's bound ``family``; ``draw``
    numbers independent draws (seeded by the seed, the dataset's name and the draw)."""
    rng = np.random.default_rng([seed, zlib.crc32(family.spec.name.encode()), draw])
    return family.chance(records, rng)


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
    bands = {
        m: float(
            np.quantile([s.metrics[m] for s in scores], BAND_QUANTILE if higher_is_better(m) else 1.0 - BAND_QUANTILE)
        )
        for m in names
    }
    return {
        "n": first.n,
        "primary_metric": first.primary_metric,
        "primary": metrics.get(first.primary_metric),
        "metrics": metrics,
        "band": bands.get(first.primary_metric),
        "bands": bands,
        "band_quantile": BAND_QUANTILE,
        "draws": len(scores),
    }


def beyond_chance(score: float | None, chance: dict, metric: str | None = None) -> bool | None:
    """Whether ``score`` passes the chance draws' band of ``metric`` (default: the primary metric), in the
    metric's own direction; None when either is missing."""
    metric = metric or chance.get("primary_metric")
    band = chance.get("bands", {}).get(metric) if metric else None
    if score is None or band is None:
        return None
    return score > band if higher_is_better(metric) else score < band
