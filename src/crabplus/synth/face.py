"""Talking faces for the emotion datasets: a drawn expression and a voiced utterance with prosody.

The face is drawn at 4x and area-downsampled (anti-aliased: thin brows and mouths must survive at
56 px; faces need no exact masks). The mouth opens with each syllable of the voice, so sight and
sound are synchronised. The voice is a harmonic source (speaker pitch x emotion pitch x contour,
optional vibrato) shaped by a vowel's two formants, in syllables at the emotion's rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from crabplus.synth.sound import fade, noise
from crabplus.synth.studio import studio_tint
from crabplus.synth.world import EMOTIONS, SKIN_TONES

_SUPER = 4  # supersampling factor for drawing
_VOWELS = {"a": (750.0, 1200.0), "i": (300.0, 2300.0), "u": (350.0, 800.0), "e": (500.0, 1800.0)}


@dataclass
class EmotionScene:
    """One talking face. ``intensity`` scales the expression; ``syllables`` are (start, end, vowel)
    in seconds; ``base_f0`` is the speaker's pitch before the emotion's factor."""

    emotion: str
    duration: int
    intensity: float = 1.0
    skin: tuple[int, int, int] = SKIN_TONES[0]
    x: float = 0.5
    y: float = 0.52
    scale: float = 1.0
    base_f0: float = 150.0
    syllables: list[tuple[float, float, str]] = field(default_factory=list)
    blink: float = 1.0
    background: tuple[tuple[int, int, int], tuple[int, int, int]] = ((30, 40, 60), (60, 70, 90))
    noise: float = 0.01

    def to_json(self) -> dict:
        return {
            "emotion": self.emotion,
            "duration": self.duration,
            "intensity": round(self.intensity, 3),
            "base_f0": round(self.base_f0, 1),
            "syllables": len(self.syllables),
            "loudness": EMOTIONS[self.emotion][1].loudness,
        }


def sample_emotion_scene(
    rng: np.random.Generator, emotion: str, duration: int, dataset: str | None = None
) -> EmotionScene:
    """A random speaker, placement and utterance expressing ``emotion``, in ``dataset``'s studio."""
    voice = EMOTIONS[emotion][1]
    rate = voice.rate * float(rng.uniform(0.85, 1.15))
    syllables, t = [], float(rng.uniform(0.05, 0.3))
    while t + 0.6 / rate < duration - 0.1:
        syllables.append((t, t + 0.65 / rate, str(rng.choice(list(_VOWELS)))))
        t += 1.0 / rate * float(rng.uniform(0.9, 1.1))
    low = rng.random() < 0.5
    bg = tuple(
        int(v) for v in np.clip(rng.integers(25, 60) + studio_tint(dataset) + rng.integers(-6, 7, size=3), 0, 255)
    )
    return EmotionScene(
        emotion=emotion,
        duration=duration,
        intensity=float(rng.uniform(0.7, 1.0)),
        skin=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
        x=float(rng.uniform(0.45, 0.55)),
        y=float(rng.uniform(0.48, 0.56)),
        scale=float(rng.uniform(0.85, 1.0)),
        base_f0=float(rng.uniform(105, 135) if low else rng.uniform(185, 225)),
        syllables=syllables,
        blink=float(rng.uniform(0.5, duration - 0.5)),
        background=(bg, tuple(min(255, v + 30) for v in bg)),
        noise=float(rng.uniform(0.003, 0.012)),
    )


def _envelope(scene: EmotionScene, t: np.ndarray) -> np.ndarray:
    """Speech envelope in [0, 1] at times ``t`` (raised-cosine syllables), for the mouth."""
    env = np.zeros_like(t, dtype=np.float64)
    for a, b, _ in scene.syllables:
        inside = (t >= a) & (t < b)
        env[inside] = np.maximum(env[inside], np.sin(np.pi * (t[inside] - a) / (b - a)))
    return env


def render_face(scene: EmotionScene, t: float, size: int) -> np.ndarray:
    """The face at time ``t``: (size, size, 3) uint8."""
    face = EMOTIONS[scene.emotion][0]
    k = scene.intensity
    S = size * _SUPER
    top, bottom = (np.array(c, dtype=np.float32) for c in scene.background)
    w = np.linspace(0, 1, S, dtype=np.float32)[:, None, None]
    img = np.ascontiguousarray(np.broadcast_to(top * (1 - w) + bottom * w, (S, S, 3)).astype(np.uint8))

    def P(x: float, y: float) -> tuple[int, int]:  # fraction of the frame -> supersampled pixel
        return int(round(x * S)), int(round(y * S))

    def L(v: float) -> int:
        return max(1, int(round(v * S)))

    bob = 0.015 * math.sin(2 * math.pi * t / 2.7)
    hx, hy, s = scene.x, scene.y + bob, scene.scale
    cv2.ellipse(img, P(hx, hy), (L(0.33 * s), L(0.41 * s)), 0, 0, 360, scene.skin, -1, cv2.LINE_AA)
    # eyes: white, iris; a blink closes them for a third of a second
    eye_open = (1 + (face.eye_open - 1) * k) * (0.15 if abs(t - scene.blink) < 0.17 else 1.0)
    for side in (-1, 1):
        ex, ey = hx + side * 0.13 * s, hy - 0.08 * s
        cv2.ellipse(img, P(ex, ey), (L(0.075 * s), L(0.05 * s * eye_open)), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
        if eye_open > 0.3:
            cv2.circle(img, P(ex, ey), L(0.032 * s * min(1.0, eye_open)), (40, 30, 20), -1, cv2.LINE_AA)
        # brows: the inner end moves with the tilt, the whole brow with the raise
        base = ey - (0.1 + 0.05 * face.brow_raise * k) * s
        inner = P(hx + side * 0.05 * s, base - 0.05 * face.brow_tilt * k * s)
        outer = P(hx + side * 0.21 * s, base + 0.01 * s)
        cv2.line(img, inner, outer, (50, 35, 25), L(0.03 * s), cv2.LINE_AA)
    # mouth: a curve whose centre drops below the corners when smiling; it opens with each syllable
    my = hy + 0.2 * s
    talk = float(_envelope(scene, np.array([t]))[0])
    opening = face.mouth_open * k + 0.45 * talk
    us = np.linspace(-0.5, 0.5, 17)
    ys = my + 0.05 * face.mouth_curve * k * s * (1 - 8 * us**2)
    pts = np.stack([hx + us * 0.26 * s, ys], 1)
    if opening > 0.05:
        cv2.ellipse(
            img,
            P(hx, my + 0.01 * s),
            (L(0.07 * s * (1 + 0.3 * opening)), L(0.08 * s * opening)),
            0,
            0,
            360,
            (90, 20, 30),
            -1,
            cv2.LINE_AA,
        )
    cv2.polylines(img, [np.round(pts * S).astype(np.int32)], False, (120, 40, 50), L(0.025 * s), cv2.LINE_AA)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def render_face_video(scene: EmotionScene, fps: int, size: int) -> np.ndarray:
    """(duration * fps, size, size, 3) uint8, frame i at t = i / fps."""
    return np.stack([render_face(scene, i / fps, size) for i in range(scene.duration * fps)])


def _contour(kind: str, u: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pitch multiplier over the utterance; ``u`` in [0, 1] is the position in the clip."""
    if kind == "flat":
        return np.ones_like(u)
    if kind == "rise":
        return 0.85 + 0.45 * u
    if kind == "fall":
        return 1.15 - 0.35 * u
    if kind == "arch":
        return 0.95 + 0.25 * np.sin(np.pi * u)
    if kind == "wobble":
        return 1 + 0.1 * np.sin(2 * np.pi * 1.6 * t)
    raise KeyError(f"unknown pitch contour {kind!r}")


def render_voice(scene: EmotionScene, sr: int, rng: np.random.Generator) -> np.ndarray:
    """The utterance plus room noise: (duration * sr,) float32 in [-1, 1]."""
    voice = EMOTIONS[scene.emotion][1]
    n = scene.duration * sr
    out = noise(rng, n, scene.noise)
    slope = 2.0 - 1.5 * voice.bright  # harmonic k has amplitude k ** -slope before the formants
    for a, b, vowel in scene.syllables:
        s, e = int(a * sr), min(n, int(b * sr))
        t = np.arange(s, e) / sr  # (m,) seconds
        f0 = scene.base_f0 * voice.pitch * _contour(voice.contour, t / scene.duration, t)
        f0 = f0 * (1 + voice.vibrato * np.sin(2 * np.pi * 6.5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / sr  # (m,)
        f1, f2 = _VOWELS[vowel]
        wave = np.zeros(e - s)
        mean_f0 = float(f0.mean())
        for h in range(1, 25):
            fh = h * mean_f0
            if fh > 0.45 * sr:
                break
            gain = h**-slope * (1 + 3 * math.exp(-(((fh - f1) / 150) ** 2)) + 2 * math.exp(-(((fh - f2) / 200) ** 2)))
            wave += gain * np.sin(h * phase)
        wave /= np.max(np.abs(wave)) or 1.0
        env = np.sqrt(np.clip(np.sin(np.pi * (t - a) / (b - a)), 0.0, 1.0)) * fade(e - s, sr)
        out[s:e] += (0.6 * voice.loudness * wave * env).astype(np.float32)
    return np.clip(out, -1.0, 1.0)
