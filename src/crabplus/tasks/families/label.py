"""The label family: one class name per clip (action and emotion recognition).

Target ``<answer>LABEL</answer>``. Scored by accuracy after normalisation (``metric="accuracy"``), or by the
emotion benchmarks' UAR / WAR (``metric="uar_war"``, headline UAR). Chance: a label drawn from the evaluated
records' distinct ground-truth labels.
"""

from __future__ import annotations

import numpy as np

from crabplus.metrics import accuracy, uar_war
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.tasks.families.base import Family, ScoreConfig, guess, normalized, pick, vocab
from crabplus.tasks.families.reading import word_answer


class LabelFamily(Family):
    """A class label, tagged."""

    name = "label"
    fields = ("label",)
    primary_metrics = {"accuracy": "accuracy", "uar_war": "uar"}

    def render(self, answer: Answer) -> str:
        return f"<answer>{answer.label}</answer>"

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        label = word_answer(text)
        return Prediction(label=label, parsed=label is not None, release_valid=label is not None)

    def metrics(self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig,
                notes: list[str]) -> dict[str, float]:
        said, truth = normalized(p.label for p in predictions), normalized(r.answer.label for r in records)
        if self.spec.metric == "accuracy":
            return {"accuracy": accuracy(said, truth)}
        if self.spec.metric == "uar_war":
            return uar_war(said, truth)
        raise self._unknown_metric()

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        labels = vocab(r.answer.label for r in records)
        out = []
        for _ in records:
            p = guess()
            p.label = pick(rng, labels)
            out.append(p)
        return out
