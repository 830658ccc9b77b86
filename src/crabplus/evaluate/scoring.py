"""Structured predictions + records -> the official metric of one dataset (``DatasetSpec.metric``).

This module turns parsed answers into the inputs of :mod:`crabplus.metrics` for the non-spatial
tasks (segmentation lives in :mod:`crabplus.evaluate.segscore`). Conventions:

- labels, free answers and options are compared after :func:`~crabplus.tasks.normalize.normalize_answer`;
- an unparsed prediction is wrong: no label/choice (never equal), AVE segments that match no
  class, no UnAV detection, an AVVP video scored 0 on every F, an empty caption;
- AVE/AVVP: events become one label / one row per one-second segment by the segment's midpoint
  (whole-second ranges: ``start <= k < end``), T = max(10, last ground-truth end); AVVP classes are
  the ground-truth labels plus any predicted label outside them (those are false positives);
- UnAV: an LLM gives no confidence, so the i-th event of an answer gets score 1 / (1 + i).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from crabplus.metrics import accuracy as accuracy_metric
from crabplus.metrics import (
    aggregate_avvp,
    ave_accuracy,
    avvp_video_scores,
    caption_scores,
    events_to_matrix,
    events_to_segments,
    matching_accuracy,
    music_avqa_accuracy,
    option_accuracy,
    tiou_map,
    uar_war,
)
from crabplus.metrics.tiou import UNAV_THRESHOLDS
from crabplus.schema.records import Record, RecordError
from crabplus.schema.registry import DatasetSpec
from crabplus.tasks.normalize import normalize_answer
from crabplus.tasks.parsers import Prediction

#: the headline number of each metric family
PRIMARY = {"accuracy": "accuracy", "uar_war": "uar", "avqa_accuracy": "overall", "option_accuracy": "accuracy",
           "ave_accuracy": "accuracy", "tiou_map": "avg_map", "avvp": "segment_type", "caption": "cider",
           "avs": "miou", "refavs": "miou", "box_iou": "miou"}
#: metrics where lower is better (everything else: higher is better)
LOWER_IS_BETTER = frozenset({"null_s", "null_s_per_sample"})
MIN_SEGMENTS = 10
UNPARSED_CLASS = -2  # an AVE segment class no ground truth has


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


def higher_is_better(metric: str) -> bool:
    return metric.split("/")[0] not in LOWER_IS_BETTER


def _labels(values) -> list[str | None]:
    return [normalize_answer(v) if v else None for v in values]


def _num_segments(records: list[Record], fields: tuple[str, ...]) -> int:
    ends = [ev.end for r in records for f in fields for ev in (getattr(r.answer, f) or [])]
    return max(MIN_SEGMENTS, math.ceil(max(ends))) if ends else MIN_SEGMENTS


def _triples(events) -> list[tuple[str, float, float]]:
    return [(normalize_answer(ev.label), ev.start, ev.end) for ev in events or []]


def _score_ave(records: list[Record], preds: list[Prediction]) -> dict[str, float]:
    t = _num_segments(records, ("events",))
    vocab = sorted({lab for r in records for lab, _, _ in _triples(r.answer.events)})
    index = {lab: i for i, lab in enumerate(vocab)}
    background = len(vocab)
    gt = np.stack([events_to_segments(_triples(r.answer.events), index, background, t) for r in records])  # [N, T]
    rows = []
    for p in preds:
        if p.parsed:
            rows.append(events_to_segments(_triples(p.events), index, background, t))
        else:
            rows.append(np.full(t, UNPARSED_CLASS))
    return {"accuracy": ave_accuracy(np.stack(rows), gt)}


def _score_unav(records: list[Record], preds: list[Prediction]) -> dict[str, float]:
    gt = [(r.id, lab, s, e) for r in records for lab, s, e in _triples(r.answer.events)]
    if not gt:
        return {}  # mAP needs ground-truth events; the caller notes the empty result
    detections = [(r.id, lab, s, e, 1.0 / (1 + i))
                  for r, p in zip(records, preds) if p.parsed for i, (lab, s, e) in enumerate(_triples(p.events))]
    maps = tiou_map(detections, gt, UNAV_THRESHOLDS)
    out = {f"map@{t:.1f}": v for t, v in maps.items() if t >= 0.5 - 1e-9}
    out["avg_map"] = float(np.mean(list(maps.values())))
    return out


def _score_avvp(records: list[Record], preds: list[Prediction]) -> dict[str, float]:
    t = _num_segments(records, ("audio_events", "visual_events"))
    labels = sorted({lab for r in records for f in ("audio_events", "visual_events")
                     for lab, _, _ in _triples(getattr(r.answer, f))})
    extra = sorted({lab for p in preds if p.parsed for f in ("audio_events", "visual_events")
                    for lab, _, _ in _triples(getattr(p, f))} - set(labels))
    index = {lab: i for i, lab in enumerate(labels + extra)}

    def matrices(items) -> tuple[np.ndarray, np.ndarray]:
        audio = np.stack([events_to_matrix(_triples(x.audio_events), index, t) for x in items])  # [N, C, T]
        visual = np.stack([events_to_matrix(_triples(x.visual_events), index, t) for x in items])
        return audio, visual

    ga, gv = matrices([r.answer for r in records])
    pa, pv = matrices(preds)
    per_video = avvp_video_scores(pa, pv, ga, gv)
    unparsed = np.array([not p.parsed for p in preds])
    for values in per_video.values():
        values[unparsed] = 0.0  # an unparsed answer is wrong, even where an empty one would score 1.0
    return aggregate_avvp(per_video)


def _score_caption(records: list[Record], preds: list[Prediction], meteor: bool, notes: list[str]):
    refs = [[t for t in (r.answer.text, *(r.answer.references or [])) if t and t.strip()] for r in records]
    for r, ref in zip(records, refs):
        if not ref:
            raise RecordError("a captioning record needs a non-empty reference caption", record_id=r.id,
                              field="answer.text")
    return caption_scores([p.text if p.parsed else None for p in preds], refs, meteor=meteor, notes=notes)


def score_simple(spec: DatasetSpec, records: list[Record], preds: list[Prediction], *, meteor: bool = True) -> Score:
    """The metric of a non-segmentation dataset over aligned ``records`` and ``preds``."""
    notes: list[str] = []
    primary = PRIMARY[spec.metric]
    if not records:
        return Score({}, primary, 0, notes)
    metric = spec.metric
    if metric == "accuracy" and spec.task == "matching":
        metrics = {"accuracy": matching_accuracy([p.choice for p in preds], [r.answer.choice for r in records])}
    elif metric == "accuracy":
        pred_labels, gt_labels = _labels(p.label for p in preds), _labels(r.answer.label for r in records)
        metrics = {"accuracy": accuracy_metric(pred_labels, gt_labels)}
    elif metric == "uar_war":
        metrics = uar_war(_labels(p.label for p in preds), _labels(r.answer.label for r in records))
    elif metric == "avqa_accuracy":
        metrics = music_avqa_accuracy(_labels(p.text for p in preds), _labels(r.answer.text for r in records),
                                      [r.meta.get("type") for r in records])
    elif metric == "option_accuracy":
        metrics = option_accuracy([p.choice for p in preds], [r.answer.choice for r in records],
                                  [r.meta.get("question_type") for r in records])
    elif metric == "ave_accuracy" and spec.name == "ave":
        metrics = _score_ave(records, preds)
    elif metric == "tiou_map":
        metrics = _score_unav(records, preds)
    elif metric == "avvp":
        metrics = _score_avvp(records, preds)
    elif metric == "caption":
        metrics = _score_caption(records, preds, meteor, notes)
    else:
        raise KeyError(f"{spec.name}: no scorer for metric {metric!r}")
    if not metrics:
        notes.append("no ground-truth events: nothing to score")
    return Score(metrics, primary, len(records), notes)
