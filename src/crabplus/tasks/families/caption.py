"""The caption family: a free description of the clip (VALOR-32K).

The target is the caption itself, untagged; reading back takes a tagged answer if there is one, else the whole
text. Scored by BLEU-4, METEOR (when ``cfg.meteor``: the jar's Java start-up costs seconds), ROUGE-L and CIDEr
(headline) against the record's reference captions; an unparsed answer is an empty caption. Chance is a
retrieval baseline: another record's reference caption.
"""

from __future__ import annotations

import numpy as np

from crabplus.metrics import caption_scores
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record, RecordError
from crabplus.tasks.families.base import Family, ScoreConfig, guess, others, pick
from crabplus.tasks.families.reading import answer_tag


class CaptionFamily(Family):
    """A caption, untagged."""

    name = "caption"
    fields = ("text",)
    primary_metrics = {"caption": "cider"}

    def render(self, answer: Answer) -> str:
        return answer.text

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        caption = answer_tag(text)
        caption = (caption if caption is not None else text).strip()
        return Prediction(text=caption or None, parsed=bool(caption), release_valid=bool(caption))

    def metrics(
        self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig, notes: list[str]
    ) -> dict[str, float]:
        refs = [[t for t in (r.answer.text, *(r.answer.references or [])) if t and t.strip()] for r in records]
        for r, ref in zip(records, refs):
            if not ref:
                raise RecordError(
                    "a captioning record needs a non-empty reference caption", record_id=r.id, field="answer.text"
                )
        return caption_scores([p.text if p.parsed else None for p in predictions], refs, meteor=cfg.meteor, notes=notes)

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        captions = [r.answer.text for r in records]
        out = []
        for i, _ in enumerate(records):
            p = guess()
            p.text = pick(rng, others(captions, i))
            out.append(p)
        return out
