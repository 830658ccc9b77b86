"""The events family: labelled time ranges in a clip (AVE, UnAV-100).

Target ``<event>LABEL</event><range>S,E</range>`` per event (whole seconds print as integers). Reading back
also takes Crab's spaced tags, ``,``/space/``-``/``~``/``to`` between the times, and AVE's ground truth
``event:X start_time:S end_time:E``. Two official metrics:

- ``ave_accuracy`` (AVE): one label per one-second segment by the segment's midpoint (whole-second ranges:
  ``start <= k < end``), T = max(10, last ground-truth end); an unparsed answer's segments match no class;
- ``tiou_map`` (UnAV-100): detection mAP over tIoU 0.1..0.9 (headline: their mean); an LLM gives no
  confidence, so the i-th event of an answer gets score 1 / (1 + i); an unparsed answer detects nothing.

Chance: one event with a random label of the records' vocabulary and a random whole-second range in the clip.
"""

from __future__ import annotations

import math

import numpy as np

from crabplus.metrics import ave_accuracy, events_to_segments, tiou_map
from crabplus.metrics.tiou import UNAV_THRESHOLDS
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Event, Record
from crabplus.tasks.families.base import Family, ScoreConfig, guess, vocab
from crabplus.tasks.families.reading import parse_events
from crabplus.tasks.normalize import normalize_answer

MIN_SEGMENTS = 10  # a clip is scored over at least 10 one-second segments
UNPARSED_CLASS = -2  # an AVE segment class no ground truth has


def format_time(t: float) -> str:
    """Whole seconds print as integers (``6``), others as short as exact (``6.5``, ``3.25``)."""
    return str(int(t)) if float(t).is_integer() else f"{float(t):g}"


def num_segments(records: list[Record], fields: tuple[str, ...]) -> int:
    """T: the clip length in whole seconds, at least ``MIN_SEGMENTS`` (the last ground-truth end, rounded up)."""
    ends = [ev.end for r in records for f in fields for ev in (getattr(r.answer, f) or [])]
    return max(MIN_SEGMENTS, math.ceil(max(ends))) if ends else MIN_SEGMENTS


def triples(events) -> list[tuple[str, float, float]]:
    return [(normalize_answer(ev.label), ev.start, ev.end) for ev in events or []]


def random_event(rng: np.random.Generator, labels: list[str], seconds: int) -> Event:
    """A label and a whole-second range ``0 <= start < end <= seconds`` drawn uniformly."""
    start, end = sorted(rng.choice(seconds + 1, size=2, replace=False).tolist())
    return Event(labels[int(rng.integers(len(labels)))], float(start), float(end))


class EventsFamily(Family):
    """Events with time ranges."""

    name = "events"
    fields = ("events",)
    primary_metrics = {"ave_accuracy": "accuracy", "tiou_map": "avg_map"}

    def render(self, answer: Answer) -> str:
        return "".join(
            f"<event>{e.label}</event><range>{format_time(e.start)},{format_time(e.end)}</range>" for e in answer.events
        )

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        events = parse_events(text)
        return Prediction(events=events or None, parsed=bool(events), release_valid=bool(events))

    def metrics(
        self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig, notes: list[str]
    ) -> dict[str, float]:
        if self.spec.metric == "ave_accuracy":
            return _ave(records, predictions)
        if self.spec.metric == "tiou_map":
            return _tiou_map(records, predictions)
        raise self._unknown_metric()

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        labels = vocab(ev.label for r in records for ev in r.answer.events or [])
        seconds = num_segments(records, ("events",))
        out = []
        for _ in records:
            p = guess()
            p.events = [random_event(rng, labels, seconds)] if labels else []
            out.append(p)
        return out


def _ave(records: list[Record], preds: list[Prediction]) -> dict[str, float]:
    t = num_segments(records, ("events",))
    labels = sorted({lab for r in records for lab, _, _ in triples(r.answer.events)})
    index = {lab: i for i, lab in enumerate(labels)}
    background = len(labels)
    gt = np.stack([events_to_segments(triples(r.answer.events), index, background, t) for r in records])  # [N, T]
    rows = [
        events_to_segments(triples(p.events), index, background, t) if p.parsed else np.full(t, UNPARSED_CLASS)
        for p in preds
    ]
    return {"accuracy": ave_accuracy(np.stack(rows), gt)}


def _tiou_map(records: list[Record], preds: list[Prediction]) -> dict[str, float]:
    gt = [(r.id, lab, s, e) for r in records for lab, s, e in triples(r.answer.events)]
    if not gt:
        return {}  # mAP needs ground-truth events; the caller notes the empty result
    detections = [
        (r.id, lab, s, e, 1.0 / (1 + i))
        for r, p in zip(records, preds)
        if p.parsed
        for i, (lab, s, e) in enumerate(triples(p.events))
    ]
    maps = tiou_map(detections, gt, UNAV_THRESHOLDS)
    out = {f"map@{t:.1f}": v for t, v in maps.items() if t >= 0.5 - 1e-9}
    out["avg_map"] = float(np.mean(list(maps.values())))
    return out
