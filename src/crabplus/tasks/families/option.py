"""The option family: multiple choice answered with the chosen option's text (AVQA).

Target ``<answer>OPTION TEXT</answer>``. Reading back resolves the answer against the record's options (their
text after normalisation, a letter ``A``-``Z``, or the one option the answer contains) into ``choice``; without
options the answer keeps only its text. Scored by option accuracy, overall and per ``meta["question_type"]``;
chance draws one of the record's options.
"""

from __future__ import annotations

import numpy as np

from crabplus.metrics import option_accuracy
from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer, Record
from crabplus.tasks.families.base import Family, ScoreConfig, guess
from crabplus.tasks.families.reading import resolve_option, word_answer


class OptionFamily(Family):
    """The chosen option's text, tagged."""

    name = "option"
    fields = ("choice", "options")
    primary_metrics = {"option_accuracy": "accuracy"}

    def render(self, answer: Answer) -> str:
        return f"<answer>{answer.options[answer.choice]}</answer>"

    def parse(self, text: str, options: list[str] | None = None) -> Prediction:
        answer = word_answer(text)
        choice = resolve_option(answer, options)
        parsed = answer is not None if options is None else choice is not None
        return Prediction(text=answer, choice=choice, parsed=parsed, release_valid=parsed)

    def to_answer(self, prediction: Prediction, options: list[str] | None) -> Answer:
        """With the options known the answer is the choice alone (its text is the option's)."""
        answer = prediction.to_answer(options=options)
        if options is not None:
            answer.text = None
        return answer

    def metrics(
        self, records: list[Record], predictions: list[Prediction], cfg: ScoreConfig, notes: list[str]
    ) -> dict[str, float]:
        return option_accuracy(
            [p.choice for p in predictions],
            [r.answer.choice for r in records],
            [r.meta.get("question_type") for r in records],
        )

    def chance(self, records: list[Record], rng: np.random.Generator) -> list[Prediction]:
        out = []
        for rec in records:
            p = guess()
            p.choice = int(rng.integers(len(rec.answer.options or [""])))
            out.append(p)
        return out
