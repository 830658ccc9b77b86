"""Synthesising the sound track of a scene: class tones, rhythms, background noise.

Written with numpy rather than an audio library because every sound here is a few lines of
additive synthesis, and exact control matters (a tone sounds inside its whole-second range and
nowhere else: 5 ms raised-cosine fades sit *inside* the range, so no energy leaks into the
neighbouring seconds). Rhythms are phase-locked to whole seconds, so a pulsed sound is on at the
start of every second it sounds in.
"""

from __future__ import annotations

import numpy as np

from crabplus.synth.scene import Scene
from crabplus.synth.world import COLOURS, SHAPES

FADE_SECONDS = 0.005


def class_tone(colour: str, shape: str, n: int, sr: int, start_sample: int = 0, phase0: float = 0.0) -> np.ndarray:
    """The sound of class (colour, shape), unit peak, for ``n`` samples beginning at clip sample
    ``start_sample`` (so vibrato and rhythm keep the clip's phase), with carrier phase offset
    ``phase0`` radians: (n,) float32."""
    f0 = COLOURS[colour][1]
    timbre = SHAPES[shape]
    t = (start_sample + np.arange(n)) / sr  # (n,) seconds from the clip start
    if timbre.vibrato_hz:
        # instantaneous frequency f0 (1 + d sin(2 pi v t)) integrated into the phase
        phase = (
            2
            * np.pi
            * f0
            * (t - timbre.vibrato_depth / (2 * np.pi * timbre.vibrato_hz) * np.cos(2 * np.pi * timbre.vibrato_hz * t))
        )
    else:
        phase = 2 * np.pi * f0 * t
    phase = phase + phase0
    wave = np.zeros(n, dtype=np.float64)
    one_period = np.zeros(1024)  # the waveform over one period, to normalise its peak to 1
    theta = np.linspace(0, 2 * np.pi, 1024, endpoint=False)
    for k, amp in enumerate(timbre.harmonics, start=1):
        if amp and k * f0 < 0.45 * sr:  # harmonics above Nyquist would alias
            wave += amp * np.sin(k * phase)
            one_period += amp * np.sin(k * theta)
    wave /= np.abs(one_period).max()
    if timbre.pulses_per_second:
        pos = (t * timbre.pulses_per_second) % 1.0
        on = pos < timbre.duty
        # soften each pulse edge over 4 ms so pulses click less (and spread less in the spectrum)
        edge = 0.004 * timbre.pulses_per_second
        env = np.clip(np.minimum(pos, timbre.duty - pos) / edge, 0.0, 1.0) * on
        wave *= env
    return wave.astype(np.float32)


def fade(n: int, sr: int) -> np.ndarray:
    """(n,) a window of ones with raised-cosine ends of FADE_SECONDS (shorter if n is tiny)."""
    m = min(int(FADE_SECONDS * sr), n // 2)
    win = np.ones(n, dtype=np.float32)
    if m > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(m) + 0.5) / m)
        win[:m] = ramp
        win[n - m :] = ramp[::-1]
    return win


def noise(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """Background noise with RMS ``level``: white noise through a one-pole low-pass (a soft hiss
    with more energy low down, like room noise): (n,) float32."""
    white = rng.standard_normal(n + 63)
    # y[t] = sum_k a^k x[t-k]: the one-pole filter's impulse response truncated at 64 taps (a^64 < 1e-4)
    out = np.convolve(white, 0.85 ** np.arange(64), mode="valid")  # (n,)
    rms = float(np.sqrt(np.mean(out**2))) or 1.0
    return (out / rms * level).astype(np.float32)


def render_audio(scene: Scene, sr: int, rng: np.random.Generator) -> np.ndarray:
    """The scene's sound track: every object's tone in each of its sounding ranges at its loudness,
    plus background noise; (duration * sr,) float32 in [-1, 1]. Each object's carrier gets a random
    phase, so two objects of one colour (one pitch) in different clips are not the same waveform."""
    n = scene.duration * sr
    phases = rng.uniform(0, 2 * np.pi, size=len(scene.objects))
    out = noise(rng, n, scene.noise) if scene.noise > 0 else np.zeros(n, dtype=np.float32)
    for obj, phase0 in zip(scene.objects, phases):
        for a, b in obj.sounding:
            s, e = a * sr, b * sr
            out[s:e] += obj.loudness * class_tone(obj.colour, obj.shape, e - s, sr, s, phase0) * fade(e - s, sr)
    return np.clip(out, -1.0, 1.0)
