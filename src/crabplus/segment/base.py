"""The promptable-segmenter interface and the prompt geometry shared by all segmenters.

Crab+ has the model write a box and three points in 224-pixel space; a promptable segmenter turns
them into a mask of the real image (the release; docs/evaluation.md). A segmenter is any object with
``segment(image, box_224, points_224) -> bool [H, W]``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from crabplus.schema.geometry import SPACE

FRAME = SPACE  # prompts arrive in the model's 224-pixel space


class Segmenter(Protocol):
    name: str

    def segment(self, image: np.ndarray, box_224: list[int] | None, points_224: list[list[int]] | None) -> np.ndarray:
        """``image`` uint8 [H, W, 3] RGB; prompts in 224-pixel space -> bool mask [H, W]."""
        ...


def check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image [H, W, 3], got {image.dtype} {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"empty image {image.shape}")
    return image


def scale_box(box_224, height: int, width: int) -> tuple[int, int, int, int] | None:
    """A 224-space box -> pixel box ``(x1, y1, x2, y2)`` of a ``width`` x ``height`` image, clipped,
    with at least one pixel of extent; None for no box."""
    if box_224 is None:
        return None
    sx, sy = width / FRAME, height / FRAME
    x1 = int(np.clip(np.floor(box_224[0] * sx), 0, width - 1))
    y1 = int(np.clip(np.floor(box_224[1] * sy), 0, height - 1))
    x2 = int(np.clip(np.ceil(box_224[2] * sx), x1 + 1, width))
    y2 = int(np.clip(np.ceil(box_224[3] * sy), y1 + 1, height))
    return x1, y1, x2, y2


def scale_points(points_224, height: int, width: int) -> list[tuple[int, int]]:
    """224-space points ``[[x, y], …]`` -> pixel ``(x, y)`` of the image (pixel centres, clipped)."""
    out = []
    for x, y in points_224 or []:
        px = int(np.clip(np.floor((x + 0.5) * width / FRAME), 0, width - 1))
        py = int(np.clip(np.floor((y + 0.5) * height / FRAME), 0, height - 1))
        out.append((px, py))
    return out


def box_mask(box: tuple[int, int, int, int] | None, height: int, width: int) -> np.ndarray:
    """The filled pixel box as a bool mask [H, W] (all False for no box)."""
    mask = np.zeros((height, width), dtype=bool)
    if box is not None:
        x1, y1, x2, y2 = box
        mask[y1:y2, x1:x2] = True
    return mask
