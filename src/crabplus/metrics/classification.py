"""Accuracy-style metrics: classification (accuracy, UAR, WAR), matching, multiple choice, MUSIC-AVQA.

All are micro averages of 0/1 correctness unless said otherwise (benchmarks.md §5, §6, §10). The
inputs are plain sequences of comparable values (class names, indices); a prediction of ``None``
(unparsed) is never equal to a ground truth and so counts as wrong. Empty inputs are an error: an
accuracy over nothing has no value, and silently returning 0 or 1 hides a bug upstream.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np


def _check(pred: Sequence, gt: Sequence, what: str) -> None:
    if len(pred) != len(gt):
        raise ValueError(f"{what}: {len(pred)} predictions but {len(gt)} ground truths")
    if len(gt) == 0:
        raise ValueError(f"{what}: no samples")


def _correct(pred: Sequence, gt: Sequence) -> np.ndarray:
    return np.array([p is not None and p == g for p, g in zip(pred, gt)], dtype=bool)


def accuracy(pred: Sequence[Hashable | None], gt: Sequence[Hashable]) -> float:
    """Fraction of samples whose prediction equals the ground truth (= WAR)."""
    _check(pred, gt, "accuracy")
    return float(_correct(pred, gt).mean())


def war(pred: Sequence[Hashable | None], gt: Sequence[Hashable]) -> float:
    """Weighted average recall = overall accuracy (DFEW / MAFW naming)."""
    return accuracy(pred, gt)


def uar(pred: Sequence[Hashable | None], gt: Sequence[Hashable]) -> float:
    """Unweighted average recall: the mean over ground-truth classes of each class's recall.

    Classes that occur only in the predictions have no recall and are not averaged (sklearn's
    ``balanced_accuracy_score`` convention).
    """
    _check(pred, gt, "uar")
    correct = _correct(pred, gt)
    by_class: dict[Hashable, list[bool]] = defaultdict(list)
    for g, c in zip(gt, correct):
        by_class[g].append(bool(c))
    return float(np.mean([np.mean(v) for v in by_class.values()]))


def uar_war(pred: Sequence[Hashable | None], gt: Sequence[Hashable]) -> dict[str, float]:
    """``{"uar": …, "war": …}``."""
    return {"uar": uar(pred, gt), "war": war(pred, gt)}


def matching_accuracy(pred: Sequence[int | None], gt: Sequence[int]) -> float:
    """Audio<->video matching: fraction of samples whose chosen candidate is the matching one."""
    _check(pred, gt, "matching_accuracy")
    return float(_correct(pred, gt).mean())


def option_accuracy(
    pred: Sequence[int | None], gt: Sequence[int], types: Sequence[str | None] | None = None
) -> dict[str, float]:
    """AVQA multiple choice (benchmarks.md §6): ``{"accuracy": overall, "type/<T>": per question type}``.

    ``pred`` and ``gt`` are option indices; per-type values are micro averages over that type.
    """
    _check(pred, gt, "option_accuracy")
    correct = _correct(pred, gt)
    out = {"accuracy": float(correct.mean())}
    if types is not None:
        if len(types) != len(gt):
            raise ValueError(f"option_accuracy: {len(types)} types for {len(gt)} samples")
        buckets: dict[str, list[bool]] = defaultdict(list)
        for t, c in zip(types, correct):
            if t is not None:
                buckets[str(t)].append(bool(c))
        for t in sorted(buckets):
            out[f"type/{t}"] = float(np.mean(buckets[t]))
    return out


#: MUSIC-AVQA modality names and the spellings accepted for them.
AVQA_MODALITIES = {
    "audio": "Audio",
    "a": "Audio",
    "visual": "Visual",
    "v": "Visual",
    "audio-visual": "Audio-Visual",
    "audio_visual": "Audio-Visual",
    "audiovisual": "Audio-Visual",
    "av": "Audio-Visual",
    "audio visual": "Audio-Visual",
}


def parse_avqa_type(value) -> tuple[str, str] | None:
    """A MUSIC-AVQA question type -> ``(modality, question type)``, or None if it cannot be read.

    Accepts the release's JSON-list string ``'["Audio", "Counting"]'``, a list/tuple, or
    ``"Audio/Counting"``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return None
        elif "/" in text:
            value = text.split("/", 1)
        else:
            return None
    if not isinstance(value, list | tuple) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        return None
    modality = AVQA_MODALITIES.get(value[0].strip().lower())
    return (modality, value[1].strip()) if modality else None


def music_avqa_accuracy(
    pred: Sequence[str | None], gt: Sequence[str], types: Sequence | None = None
) -> dict[str, float]:
    """MUSIC-AVQA (benchmarks.md §5): micro accuracy per question type, pooled per modality, overall.

    ``pred``/``gt`` are answers compared as given (normalise them first, see
    :mod:`crabplus.tasks.normalize`); ``types`` per sample as :func:`parse_avqa_type` reads them.
    Keys: ``overall``, ``Audio`` / ``Visual`` / ``Audio-Visual`` (pooled over their questions, not the
    mean of the types) and ``<Modality>/<Type>``. Samples whose type cannot be read count in
    ``overall`` only.
    """
    _check(pred, gt, "music_avqa_accuracy")
    correct = _correct(pred, gt)
    out = {"overall": float(correct.mean())}
    if types is None:
        return out
    if len(types) != len(gt):
        raise ValueError(f"music_avqa_accuracy: {len(types)} types for {len(gt)} samples")
    per_mod: dict[str, list[bool]] = defaultdict(list)
    per_type: dict[str, list[bool]] = defaultdict(list)
    for t, c in zip(types, correct):
        parsed = parse_avqa_type(t)
        if parsed is None:
            continue
        per_mod[parsed[0]].append(bool(c))
        per_type[f"{parsed[0]}/{parsed[1]}"].append(bool(c))
    for key in ("Audio", "Visual", "Audio-Visual"):
        if per_mod.get(key):
            out[key] = float(np.mean(per_mod[key]))
    for key in sorted(per_type):
        out[key] = float(np.mean(per_type[key]))
    return out
