"""Pieces every mirror dataset uses: nuisance variables (background, noise, loudness, size) and
rendering a scene to a written MP4 or to a PNG frame + WAV."""

from __future__ import annotations

import numpy as np

from crabplus.synth.clip import Clip
from crabplus.synth.draw import render_frame, render_video
from crabplus.synth.scene import Scene, SceneObject, place
from crabplus.synth.sound import render_audio
from crabplus.synth.studio import studio_tint

QUIET = (0.07, 0.1)
LOUD = (0.22, 0.3)


def background(rng: np.random.Generator, dataset: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two dark, low-saturation colours (top, bottom) in the dataset's studio tint (crabplus.synth.studio),
    so that every object colour stands out."""
    base = rng.integers(12, 45)
    tint = studio_tint(dataset) + rng.integers(-4, 5, size=3)
    top = tuple(int(v) for v in np.clip(base + tint, 0, 255))
    bottom = tuple(int(v) for v in np.clip(base + tint + rng.integers(10, 30), 0, 255))
    return top, bottom


def loudness(rng: np.random.Generator, level: str | None = None) -> float:
    """A peak amplitude: ``"quiet"``, ``"loud"`` (>= 2.2x a quiet one) or anything in between."""
    lo, hi = QUIET if level == "quiet" else LOUD if level == "loud" else (QUIET[0], LOUD[1])
    return float(rng.uniform(lo, hi))


def size(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.26, 0.34))


def new_scene(clip: Clip, objects: list[SceneObject], duration: int) -> Scene:
    return Scene(
        objects=objects,
        duration=duration,
        background=background(clip.rng, clip.dataset),
        noise=float(clip.rng.uniform(0.004, 0.015)),
    )


def mover(
    clip: Clip,
    cls: str,
    motion: str,
    visible: list[tuple[int, int]],
    sounding: list[tuple[int, int]],
    level: str | None = None,
    obj_size: float | None = None,
) -> SceneObject:
    """An on-screen object placed so that its motion keeps it inside the frame."""
    s = size(clip.rng) if obj_size is None else obj_size
    x, y = place(clip.rng, motion, s)
    return SceneObject(
        cls=cls,
        x=x,
        y=y,
        size=s,
        motion=motion,
        phase=float(clip.rng.uniform(0, 5)),
        visible=visible,
        sounding=sounding,
        loudness=loudness(clip.rng, level),
    )


def offscreen(clip: Clip, cls: str, sounding: list[tuple[int, int]], level: str | None = None) -> SceneObject:
    return SceneObject(cls=cls, sounding=sounding, loudness=loudness(clip.rng, level), onscreen=False)


def write_video(clip: Clip, scene: Scene, suffix: str = ".mp4") -> tuple[str, np.ndarray]:
    """Render and write the scene as an MP4; returns (relative path, the sound track)."""
    audio = render_audio(scene, clip.cfg.sample_rate, clip.rng)
    frames = render_video(scene, clip.cfg.fps, clip.cfg.image_size)
    return clip.mp4(suffix, frames, audio), audio


def write_still(clip: Clip, scene: Scene, t: float, suffix: str) -> tuple[str, np.ndarray]:
    """Render the frame at time ``t`` as a PNG; returns (relative path, id map (H, W))."""
    frame, ids = render_frame(scene, t, clip.cfg.image_size)
    return clip.png(suffix, frame), ids
