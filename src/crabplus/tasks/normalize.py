"""Answer normalisation: when do a predicted answer and a ground-truth answer say the same thing?

The release has no scorer for its word answers (the release; docs/evaluation.md), and MUSIC-AVQA's LLM practice is an
exact match after upper-casing (benchmarks.md §5), which counts ``"2"`` against ``"two"`` and
``"acoustic guitar"`` against ``"acoustic_guitar"`` as wrong. Our rule, applied to both sides before
any comparison of labels, free answers and options:

1. Unicode NFKC, then lower case;
2. apostrophes are deleted (``person's`` -> ``persons``), underscores, hyphens and every other
   punctuation character become spaces (``Frying_(food)`` -> ``frying food``);
3. the articles ``a``, ``an``, ``the`` are dropped as words;
4. a number written in digits becomes its word (``2`` -> ``two``, ``11`` -> ``eleven``; 0..20,
   and the tens up to 100), so either spelling matches;
5. runs of white space collapse to one space; leading/trailing space is removed.

``normalize_answer("The Acoustic_Guitar.") == normalize_answer("acoustic guitar") == "acoustic guitar"``.
"""

from __future__ import annotations

import re
import string
import unicodedata

ARTICLES = frozenset({"a", "an", "the"})

_SMALL = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_TENS = {30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety", 100: "hundred"}

#: digits -> number word, for the counts that appear as answers.
NUMBER_WORDS: dict[str, str] = {str(i): w for i, w in enumerate(_SMALL)} | {str(k): v for k, v in _TENS.items()}

_APOSTROPHES = "'\u2019\u2018`"
# every ASCII punctuation character except the apostrophes (deleted instead) -> space
_TO_SPACE = str.maketrans({c: " " for c in string.punctuation if c not in _APOSTROPHES})
_DELETE = str.maketrans({c: None for c in _APOSTROPHES})
_SPACE = re.compile(r"\s+")


def normalize_answer(text: str | None) -> str:
    """The canonical form of an answer (see the module docstring); ``None`` -> ``""``."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = text.translate(_DELETE).translate(_TO_SPACE)
    words = []
    for word in _SPACE.split(text):
        if not word or word in ARTICLES:
            continue
        words.append(NUMBER_WORDS.get(word, word))
    return " ".join(words)


def answers_match(prediction: str | None, reference: str | None) -> bool:
    """True when both are given and equal after :func:`normalize_answer`."""
    if prediction is None or reference is None:
        return False
    return normalize_answer(prediction) == normalize_answer(reference)
