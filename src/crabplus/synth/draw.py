"""Rasterising a scene: frames, and the id map that gives every pixel's object (hence exact masks).

Shapes are filled polygons without anti-aliasing (OpenCV ``fillPoly`` with ``LINE_8`` and sub-pixel
``shift``), so every pixel belongs to exactly one object or to the background: a ground-truth mask
is ``idmap == i`` and the object's colour is exactly its class colour inside it (in the PNG frames;
H.264 then blurs the MP4 frames a little).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from crabplus.synth.scene import Scene
from crabplus.synth.world import COLOURS

_SHIFT = 4  # sub-pixel bits for fillPoly
_CIRCLE = 32  # polygon sides of a circle


def shape_polygon(shape: str, cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    """Vertices (N, 2) in pixels of ``shape`` centred at (cx, cy) with circumradius ``radius``,
    rotated by ``angle`` degrees. A diamond is a narrow rhombus so that a spinning square (which
    passes through 45 degrees) never looks like one."""
    if shape == "circle":
        a = np.linspace(0, 2 * np.pi, _CIRCLE, endpoint=False)
        pts = np.stack([np.cos(a), np.sin(a)], 1)
    elif shape == "square":
        a = np.deg2rad(45 + 90 * np.arange(4))
        pts = np.stack([np.cos(a), np.sin(a)], 1)
    elif shape == "triangle":
        a = np.deg2rad(-90 + 120 * np.arange(3))
        # shift down so the triangle's bounding box, not its centroid, is centred
        pts = np.stack([np.cos(a), np.sin(a) + 0.25], 1)
    elif shape == "diamond":
        pts = np.array([[0, -1], [0.7, 0], [0, 1], [-0.7, 0]], dtype=float)
    elif shape == "cross":
        w = 0.36
        pts = np.array(
            [
                [w, -1],
                [w, -w],
                [1, -w],
                [1, w],
                [w, w],
                [w, 1],
                [-w, 1],
                [-w, w],
                [-1, w],
                [-1, -w],
                [-w, -w],
                [-w, -1],
            ],
            dtype=float,
        )
    else:
        raise KeyError(f"unknown shape {shape!r}")
    th = math.radians(angle)
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    return pts @ rot.T * radius + np.array([cx, cy])  # (N, 2)


def background(scene: Scene, size: int) -> np.ndarray:
    """A vertical gradient between the scene's two background colours: (size, size, 3) uint8."""
    top, bottom = (np.array(c, dtype=np.float32) for c in scene.background)
    w = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None]  # (H, 1)
    rows = top[None, :] * (1 - w) + bottom[None, :] * w  # (H, 3)
    return np.repeat(rows[:, None, :], size, axis=1).round().astype(np.uint8)  # (H, W, 3)


def idmap_at(scene: Scene, t: float, size: int) -> np.ndarray:
    """(size, size) uint8: 0 for background, i + 1 where object ``scene.objects[i]`` is drawn on top."""
    ids = np.zeros((size, size), dtype=np.uint8)
    for i, obj in enumerate(scene.objects):
        if not obj.visible_at(t):
            continue
        cx, cy, s, angle = obj.state(t)
        # pixel centres sit at integer coordinates; a fraction f of the frame spans f * size pixels
        pts = shape_polygon(obj.shape, cx * size - 0.5, cy * size - 0.5, s * size / 2, angle)
        cv2.fillPoly(
            ids, [np.round(pts * (1 << _SHIFT)).astype(np.int32)], color=i + 1, lineType=cv2.LINE_8, shift=_SHIFT
        )
    return ids


def compose(scene: Scene, ids: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """The RGB frame (H, W, 3) uint8 for an id map: class colours over the background."""
    lut = np.zeros((len(scene.objects) + 1, 3), dtype=np.uint8)
    for i, obj in enumerate(scene.objects):
        lut[i + 1] = COLOURS[obj.colour][0]
    return np.where(ids[..., None] > 0, lut[ids], bg)


def render_frame(scene: Scene, t: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(frame (H, W, 3) uint8, id map (H, W) uint8) at time ``t``."""
    ids = idmap_at(scene, t, size)
    return compose(scene, ids, background(scene, size)), ids


def render_video(scene: Scene, fps: int, size: int) -> np.ndarray:
    """All frames of the clip, frame i at t = i / fps: (duration * fps, H, W, 3) uint8."""
    bg = background(scene, size)
    frames = [compose(scene, idmap_at(scene, i / fps, size), bg) for i in range(scene.duration * fps)]
    return np.stack(frames)


def frame_time(k: int, n_windows: int, duration: int) -> float:
    """The instant shown for audio window ``k`` of ``n_windows``: the centre of that window."""
    return (k + 0.5) * duration / n_windows
