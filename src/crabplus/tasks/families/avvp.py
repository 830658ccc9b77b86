"""The AVVP family: events per modality, heard and seen apart (LLP's audio-visual video parsing).

Target ``<audio_event>LABEL,(S E)</audio_event>`` per audible event, then ``<visual_event>LABEL,(S E)
</visual_event>`` per visible one. Reading back also takes Crab's older ``<audio>``/``<visual>`` tags and several
``(S E)`` ranges in one tag. Scored by the AVVP F-scores (segment and event level; audio, visual, audio-visual,
type and event averages; headline segment-level ``type``): events become one row per class and one-second
segment, the classes being the ground-truth labels plus any predicted label outside them (false positives);
an unparsed video scores 0 on every F. Chance: one random event per modality.
"""

from __future__ import annotations

import numpy as np

from crabplus.metrics import aggregate_avvp, avvp_video_scores, events_to_matrix
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Event, Record
from crabplus.tasks.families.base import Family, ScoreConfig, guess, vocab
from crabplus.tasks.families.events import format_time, num_segments, random_event, triples
from crabplus.tasks.families.reading import parse_modality_events

FIELDS = ("audio_events", "visual_events")


def _tagged(tag: str, events: list[Event]) -> str:
    return "".join(f"<{tag}>{e.label},({format_time(e.start)} {format_time(e.end)})</{tag}>" for e in events)


class AvvpFamily(Family):
    """Audio events and visual events with time ranges."""

    name = "avvp"
    fields = ("audio_events", "visual_events")
    primary_metrics = {"avvp": "segment_type"}

    def render(self, answer: Answer) -> str:
        return _tagged("audio_event", answer.audio_events) + _tagged("visual_event", answer.visual_events)

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        audio, visual, _ = parse_modality_events(text)
        ok = bool(audio or visual)
        return Prediction(
            audio_events=audio if ok else None, visual_events=visual if ok else None, parsed=ok, release_valid=ok
        )

    def metrics(
        self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig, notes: list[str]
    ) -> dict[str, float]:
        t = num_segments(records, FIELDS)
        labels = sorted({lab for r in records for f in FIELDS for lab, _, _ in triples(getattr(r.answer, f))})
        extra = sorted(
            {lab for p in predictions if p.parsed for f in FIELDS for lab, _, _ in triples(getattr(p, f))} - set(labels)
        )
        index = {lab: i for i, lab in enumerate(labels + extra)}

        def matrices(items) -> tuple[np.ndarray, np.ndarray]:
            audio = np.stack([events_to_matrix(triples(x.audio_events), index, t) for x in items])  # [N, C, T]
            visual = np.stack([events_to_matrix(triples(x.visual_events), index, t) for x in items])  # [N, C, T]
            return audio, visual

        ga, gv = matrices([r.answer for r in records])
        pa, pv = matrices(predictions)
        per_video = avvp_video_scores(pa, pv, ga, gv)
        unparsed = np.array([not p.parsed for p in predictions])
        for values in per_video.values():
            values[unparsed] = 0.0  # an unparsed answer is wrong, even where an empty one would score 1.0
        return aggregate_avvp(per_video)

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        labels = vocab(ev.label for r in records for f in FIELDS for ev in getattr(r.answer, f) or [])
        seconds = num_segments(records, FIELDS)
        out = []
        for _ in records:
            p = guess()
            p.audio_events = [random_event(rng, labels, seconds)] if labels else []
            p.visual_events = [random_event(rng, labels, seconds)] if labels else []
            out.append(p)
        return out
