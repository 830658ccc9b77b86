"""The choice family: which of the candidates matches (audio <-> video matching).

Target ``<answer>N</answer>`` with the candidate's 1-based number (the release's matching answers are
``1`` / ``2``); a number word (``second``) also reads. Scored by accuracy over the numbers; chance draws one of
the two candidates.
"""

from __future__ import annotations

import numpy as np

from crabplus.metrics import matching_accuracy
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import MATCHING_CHOICES, Answer, Record
from crabplus.tasks.families.base import Family, ScoreConfig, guess
from crabplus.tasks.families.reading import choice_number, word_answer


class ChoiceFamily(Family):
    """A candidate number, tagged."""

    name = "choice"
    fields = ("choice",)
    primary_metrics = {"accuracy": "accuracy"}

    def render(self, answer: Answer) -> str:
        return f"<answer>{answer.choice}</answer>"

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        choice = choice_number(word_answer(text))
        return Prediction(choice=choice, parsed=choice is not None, release_valid=choice is not None)

    def metrics(
        self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig, notes: list[str]
    ) -> dict[str, float]:
        return {"accuracy": matching_accuracy([p.choice for p in predictions], [r.answer.choice for r in records])}

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        out = []
        for _ in records:
            p = guess()
            p.choice = int(rng.integers(min(MATCHING_CHOICES), max(MATCHING_CHOICES) + 1))
            out.append(p)
        return out
