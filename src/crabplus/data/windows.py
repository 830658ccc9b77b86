"""The per-task audio windows of the release (docs/media.md), on 16 kHz mono waveforms.

The arithmetic is the release's, including its integer truncations, so that the same clip gives the same
samples: a clip is first right-padded with zeros to 1 s; then

- ``tenths`` (and ``fifths``): the clip cut into 10 (5) parts of ``int(len/10)`` samples, concatenated, i.e.
  the clip without its remainder tail;
- ``ten_of_60s`` (MUSIC-AVQA's): ten 2 s windows ``[t-0.5, t+1.5]`` for t = 0, 6, ..., 54 on a clip assumed to last 60 s
  (unit = ``int(len/60)`` samples); the first window is zero-padded at the front;
- ``first4``: four 1 s chunks at the true rate, each zero-padded: exactly 4 s;
- ``one_fifth`` / ``one_tenth``: part number ``index`` of 5 (10) equal parts, exactly one part long.
"""

from __future__ import annotations

import numpy as np

from crabplus.schema.registry import AudioWindow

SAMPLE_RATE = 16000
WINDOWS: tuple[str, ...] = ("tenths", "ten_of_60s", "first4", "fifths", "one_fifth", "one_tenth")
#: Windows that keep one part of the clip, and into how many parts they cut it.
ONE_PART = {"one_fifth": 5, "one_tenth": 10}


def check_window_index(mode: str, index: int | None) -> None:
    """A one-part window needs an index in [0, parts); the others take none. ``ValueError`` otherwise."""
    if mode not in WINDOWS:
        raise ValueError(f"unknown audio window {mode!r} (known: {', '.join(WINDOWS)})")
    if mode in ONE_PART and (index is None or not 0 <= index < ONE_PART[mode]):
        raise ValueError(f"audio window {mode!r} needs an index in [0, {ONE_PART[mode] - 1}], got {index}")


def pad_to_one_second(audio: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Clips shorter than 1 s are right-padded with zeros to 1 s (the release)."""
    if len(audio) < sr:
        return np.concatenate([audio, np.zeros(sr - len(audio), dtype=audio.dtype)])
    return audio


def _equal_parts(audio: np.ndarray, parts: int) -> np.ndarray:
    unit = int(len(audio) / parts)
    return audio[: unit * parts]


def _ten_of_60s(audio: np.ndarray) -> np.ndarray:
    total = 60
    unit = int(len(audio) / total)
    segments = []
    for t in range(0, 60, 6):
        start, end = max(0.0, t - 0.5), min(float(total), t + 1.5)
        seg = audio[int(start * unit) : int(unit * end)]
        if t - 0.5 < 0:
            seg = np.concatenate([np.zeros(2 * unit - len(seg), dtype=audio.dtype), seg])
        segments.append(seg)
    return np.concatenate(segments)


def _first_seconds(audio: np.ndarray, seconds: int, sr: int) -> np.ndarray:
    out = np.zeros(seconds * sr, dtype=audio.dtype)
    head = audio[: seconds * sr]
    out[: len(head)] = head
    return out


def _one_part(audio: np.ndarray, parts: int, index: int) -> np.ndarray:
    unit = int(len(audio) / parts)
    seg = audio[index * unit : (index + 1) * unit]
    if len(seg) < unit:
        seg = np.concatenate([seg, np.zeros(unit - len(seg), dtype=audio.dtype)])
    return seg


def apply_window(audio: np.ndarray, mode: AudioWindow, index: int | None = None, sr: int = SAMPLE_RATE) -> np.ndarray:
    """float32 [n] -> float32 [m]: the 1 s minimum padding, then window ``mode`` (``index`` for the
    one-part modes). An unknown mode or a missing/out-of-range index is a ``ValueError``."""
    check_window_index(mode, index)
    audio = pad_to_one_second(np.asarray(audio, dtype=np.float32), sr)
    if mode == "tenths":
        return _equal_parts(audio, 10)
    if mode == "fifths":
        return _equal_parts(audio, 5)
    if mode == "ten_of_60s":
        return _ten_of_60s(audio)
    if mode == "first4":
        return _first_seconds(audio, 4, sr)
    return _one_part(audio, ONE_PART[mode], index)


def fit_to_chunk(audio: np.ndarray, chunk: int = 30 * SAMPLE_RATE, pieces: int = 10) -> np.ndarray:
    """float32 [n] -> [min(n, chunk)]: the 30 s the audio encoder hears. Ours, not the release's (which
    keeps the first 30 s): longer audio keeps ``pieces`` windows of ``chunk / pieces`` samples spread
    evenly over it, as the frames are spread over the clip, so a 5-minute clip is heard throughout.
    Audio of 30 s or less is unchanged (every benchmark clip after its window)."""
    n = len(audio)
    if n <= chunk:
        return audio
    width = chunk // pieces
    starts = np.linspace(0, n - width, pieces).round().astype(np.int64)  # [pieces]
    return np.concatenate([audio[s : s + width] for s in starts])
