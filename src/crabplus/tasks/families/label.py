"""The label family: one class name per clip (action and emotion recognition).

Target ``<answer>LABEL</answer>``. Scored by accuracy after normalisation (``metric="accuracy"``), or by the
emotion benchmarks' UAR / WAR (``metric="uar_war"``, headline UAR). Chance: a label drawn from the evaluated
records' distinct ground-truth labels.
"""

from __future__ import annotations

import re

import numpy as np

from crabplus.metrics import accuracy, uar_war
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.tasks.families.base import Family, ScoreConfig, guess, normalized, pick, vocab
from crabplus.tasks.families.reading import word_answer

_JUNK = re.compile(r"([^\w\s])\1\1")  # one punctuation mark thrice in a row ("a,,,,"): a degenerate answer
_LETTER = re.compile(r"[^\W\d_]")


def _class_like(label: str) -> bool:
    """A class name has a letter, no mark repeated thrice, and at least as many letters as marks (AVE's "Race
    car, auto racing" keeps its comma, a "(guitar)" its brackets)."""
    marks = sum(1 for ch in label if not ch.isalnum() and not ch.isspace())
    letters = sum(1 for ch in label if ch.isalpha())
    return _LETTER.search(label) is not None and _JUNK.search(label) is None and letters >= marks


class LabelFamily(Family):
    """A class label, tagged."""

    name = "label"
    fields = ("label",)
    primary_metrics = {"accuracy": "accuracy", "uar_war": "uar"}

    def render(self, answer: Answer) -> str:
        return f"<answer>{answer.label}</answer>"

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        label = word_answer(text)
        if label is not None and not _class_like(label):
            return Prediction(
                parsed=False,
                notes=[f"{label[:40]!r} is not a class name (a run of punctuation or no letter): not parsed"],
            )
        return Prediction(label=label, parsed=label is not None, release_valid=label is not None)

    def metrics(
        self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig, notes: list[str]
    ) -> dict[str, float]:
        said, truth = normalized(p.label for p in predictions), normalized(r.answer.label for r in records)
        outside = sum(1 for s in said if s is not None and s not in set(truth))
        if outside:
            notes.append(
                f"{outside} of {len(said)} answers name a label that no evaluated record has (outside the "
                "dataset's classes as these records know them)"
            )
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
