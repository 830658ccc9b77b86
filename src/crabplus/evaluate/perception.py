"""What a base perceives: held-out greedy answers to the corpus's perception-dense questions, per attribute.

A base is judged by what it answers on clips it never saw, beside chance — never by its loss (a low loss over
long answers hides a base that guesses). Each perception-dense record of the corpus carries
``meta["probe"] = {"attribute", "expected", "values"}`` (``crabplus.synth.pretrain_dense``); an answer is right
when its leading words, lower-cased with punctuation dropped, are the expected ones. Chance per attribute is
the mean of ``1 / values`` over its questions (a uniform guess among the values the attribute can take).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crabplus.schema.records import Record


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces: ``"Upper left."`` -> ``"upper left"``."""
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


ARTICLES = ("a", "an", "the")


def _lead(words: list[str]) -> list[str]:
    return words[1:] if words and words[0] in ARTICLES else words


#: the leading words of a value that are compared: enough to tell every value of every attribute apart (the five
#: drawn faces differ within their first three words, a timing "from 2 s to 7 s" has six), so a scored answer
#: needs only a few tokens
MAX_WORDS = 6


def is_right(answer: str, expected: str) -> bool:
    """Whether ``answer`` starts with the words of ``expected`` (its first :data:`MAX_WORDS`), a leading article
    aside on either side ("A high beep." is "high beep"), whole words only ("the first" is not "the firsts")."""
    got, want = _lead(normalise(answer).split()), _lead(normalise(expected).split())[:MAX_WORDS]
    return bool(want) and got[: len(want)] == want


@dataclass(frozen=True)
class AttributeScore:
    attribute: str
    n: int
    right: int
    chance: float

    @property
    def accuracy(self) -> float:
        return self.right / self.n if self.n else 0.0

    def to_json(self) -> dict:
        return {"n": self.n, "right": self.right, "accuracy": round(self.accuracy, 4), "chance": round(self.chance, 4)}


def probe_records(records: Iterable[Record]) -> list[Record]:
    """The records that carry a perception probe."""
    return [r for r in records if isinstance(r.meta, dict) and isinstance(r.meta.get("probe"), dict)]


def score_answers(records: Sequence[Record], answers: Sequence[str]) -> dict[str, AttributeScore]:
    """Per attribute (sorted by name): how many of its questions were answered right, beside chance."""
    if len(records) != len(answers):
        raise ValueError(f"{len(records)} records but {len(answers)} answers")
    tally: dict[str, list] = {}
    for record, answer in zip(records, answers):
        probe = record.meta["probe"]
        n, right, chance = tally.setdefault(probe["attribute"], [0, 0, 0.0])
        tally[probe["attribute"]] = [
            n + 1,
            right + is_right(answer, probe["expected"]),
            chance + 1.0 / max(1, int(probe["values"])),
        ]
    return {a: AttributeScore(a, n, right, chance / n) for a, (n, right, chance) in sorted(tally.items())}


def mean_accuracy(scores: dict[str, AttributeScore]) -> float:
    """The unweighted mean over attributes (each attribute counts once, however many questions it has)."""
    return sum(s.accuracy for s in scores.values()) / len(scores) if scores else 0.0


# ---- where, as a box ---------------------------------------------------------------------------------------

#: a box written as the corpus writes it: ``[x1,y1,x2,y2]`` or the corners ``(x1,y1)(x2,y2)``, 224-pixel frame
_BOX = re.compile(
    r"\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]|\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)"
)


def first_box(text: str | None) -> tuple[int, int, int, int] | None:
    """The first box in ``text`` (either form), or None."""
    match = _BOX.search(text or "")
    if match is None:
        return None
    x1, y1, x2, y2 = (int(v) for v in match.groups() if v is not None)
    return x1, y1, x2, y2


def box_iou(a: Sequence[float] | None, b: Sequence[float] | None) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes; 0 when either is missing or empty."""
    if a is None or b is None:
        return 0.0
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1]) + max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_records(records: Iterable[Record]) -> list[Record]:
    """The records whose expected answer holds a box (the corpus's "give the box / the corners of the ..."
    questions): where a named object is, at the grain a segmentation answer needs."""
    return [r for r in records if first_box(r.target) is not None]


@dataclass(frozen=True)
class BoxScore:
    """Box answers: ``hits`` of ``n`` at IoU >= ``threshold``, their mean IoU, and the same two for the one
    constant box that is the mean of the true boxes (what an answer that ignores the frame can reach at best,
    near enough: the chance line of a box)."""

    n: int
    hits: int
    mean_iou: float
    constant_hits: int
    constant_mean_iou: float
    threshold: float

    @property
    def accuracy(self) -> float:
        return self.hits / self.n if self.n else 0.0

    @property
    def chance(self) -> float:
        return self.constant_hits / self.n if self.n else 0.0


def score_boxes(records: Sequence[Record], answers: Sequence[str], threshold: float = 0.5) -> BoxScore:
    """Score box answers against the records' boxes (an answer without a box scores IoU 0)."""
    if len(records) != len(answers):
        raise ValueError(f"{len(records)} records but {len(answers)} answers")
    truth = [first_box(r.target) for r in records]
    if any(t is None for t in truth):
        raise ValueError("score_boxes: a record's target holds no box (pick them with box_records)")
    ious = [box_iou(first_box(a), t) for a, t in zip(answers, truth)]
    mean_box = [sum(t[i] for t in truth) / len(truth) for i in range(4)] if truth else None
    constant = [box_iou(mean_box, t) for t in truth]
    n = len(truth)
    return BoxScore(
        n=n,
        hits=sum(i >= threshold for i in ious),
        mean_iou=sum(ious) / n if n else 0.0,
        constant_hits=sum(i >= threshold for i in constant),
        constant_mean_iou=sum(constant) / n if n else 0.0,
        threshold=threshold,
    )
