"""The open-answer family: a free word or short phrase answering a question (MUSIC-AVQA).

Target ``<answer>TEXT</answer>``; a short untagged text (the release's ground truths are the raw word) also
reads. Scored by MUSIC-AVQA's accuracy after normalisation, overall and per question type (``meta["type"]``);
chance draws one of the records' distinct answers.
"""

from __future__ import annotations

import numpy as np

from crabplus.metrics import music_avqa_accuracy
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.tasks.families.base import Family, ScoreConfig, guess, normalized, pick, vocab
from crabplus.tasks.families.reading import word_answer


class OpenAnswerFamily(Family):
    """A free-text answer, tagged."""

    name = "open_answer"
    fields = ("text",)
    primary_metrics = {"avqa_accuracy": "overall"}

    def render(self, answer: Answer) -> str:
        return f"<answer>{answer.text}</answer>"

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        answer = word_answer(text)
        return Prediction(text=answer, parsed=answer is not None, release_valid=answer is not None)

    def metrics(
        self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig, notes: list[str]
    ) -> dict[str, float]:
        return music_avqa_accuracy(
            normalized(p.text for p in predictions),
            normalized(r.answer.text for r in records),
            [r.meta.get("type") for r in records],
        )

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        texts = vocab(r.answer.text for r in records)
        out = []
        for _ in records:
            p = guess()
            p.text = pick(rng, texts)
            out.append(p)
        return out
