"""Per-dataset tables of the AVSynth world: each mirror dataset's class window and emotion words.

The world itself (``crabplus.synth.world``) knows no dataset; these tables say which part of it each of the
mirror datasets uses, so that neighbours overlap (transfer) as real benchmarks do.
"""

from __future__ import annotations

from crabplus.synth.world import ALL_CLASSES

#: Where each dataset's 8-class window starts in ALL_CLASSES; neighbours overlap (transfer).
_VOCAB_OFFSET = {
    "ave": 0,
    "unav": 4,
    "avvp": 8,
    "s4": 12,
    "arig": 12,
    "ms3": 16,
    "avqa": 24,
    "avqa_thu": 20,
    "avcap": 6,
}


def vocabulary(dataset: str) -> tuple[str, ...]:
    """The object classes a dataset uses: 8 for most; all 30 for the matching tasks (VGGSound-like) and
    for ref_avs (its expressions need two objects sharing a colour or a shape)."""
    if dataset in ("a2v", "v2a", "ref_avs"):
        return ALL_CLASSES
    start = _VOCAB_OFFSET[dataset]
    return tuple(ALL_CLASSES[(start + i) % len(ALL_CLASSES)] for i in range(8))


#: Each emotion dataset names (a subset of) the canonical emotions in its own words, as the real
#: ones do ("joy" in MELD, "happiness" in MAFW, "happy" elsewhere).
EMOTION_LABELS: dict[str, dict[str, str]] = {
    "meld": {
        "neutral": "neutral",
        "happy": "joy",
        "sad": "sadness",
        "angry": "anger",
        "surprised": "surprise",
        "fearful": "fear",
        "disgusted": "disgust",
    },
    "cremad": {
        "neutral": "neutral",
        "happy": "happy",
        "sad": "sad",
        "angry": "angry",
        "fearful": "fearful",
        "disgusted": "disgusted",
    },
    "dfew": {
        "neutral": "neutral",
        "happy": "happy",
        "sad": "sad",
        "angry": "angry",
        "surprised": "surprise",
        "fearful": "fear",
        "disgusted": "disgust",
    },
    "mafw": {
        "neutral": "neutral",
        "happy": "happiness",
        "sad": "sadness",
        "angry": "anger",
        "surprised": "surprise",
        "fearful": "fear",
        "disgusted": "disgust",
        "worried": "anxiety",
    },
    "mer24": {
        "neutral": "neutral",
        "happy": "happy",
        "sad": "sad",
        "angry": "angry",
        "surprised": "surprise",
        "worried": "worried",
    },
}

EMOTION_DATASETS: tuple[str, ...] = tuple(EMOTION_LABELS)
