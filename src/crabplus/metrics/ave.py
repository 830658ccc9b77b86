"""AVE (benchmarks.md §1): per-segment accuracy over all one-second segments of all videos."""

from __future__ import annotations

import numpy as np


def ave_accuracy(pred, gt) -> float:
    """Segment accuracy: ``pred``, ``gt`` int arrays [N, 10] of class indices per segment.

    Background is a class like any other (not ignored). The official value is sklearn's
    ``accuracy_score`` over all N x 10 segments (a micro average), which is what this computes.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"ave_accuracy: expected two [N, T] arrays of the same shape, got {pred.shape} and {gt.shape}")
    if gt.size == 0:
        raise ValueError("ave_accuracy: no segments")
    return float((pred == gt).mean())


def events_to_segments(
    events, class_index: dict[str, int], background: int, num_segments: int = 10, unknown: int = -1
) -> np.ndarray:
    """Labelled time ranges -> one class index per one-second segment [num_segments].

    Segment k (covering [k, k+1)) takes the label of the first event whose range holds the
    segment's midpoint k + 0.5; for whole-second ranges this is AVE's ``start <= k < end``.
    Segments no event covers are ``background``; a label missing from ``class_index`` is ``unknown``.
    """
    out = np.full(num_segments, background, dtype=np.int64)  # [T]
    taken = np.zeros(num_segments, dtype=bool)
    mids = np.arange(num_segments) + 0.5
    for ev in events:
        label, start, end = ev
        cover = (mids >= start) & (mids < end) & ~taken
        out[cover] = class_index.get(label, unknown)
        taken |= cover
    return out
