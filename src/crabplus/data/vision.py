"""Frames -> the Qwen2.5-Omni vision input: resize, rescale + normalise, and cut into merged patches.

transformers' own video processor needs torchvision, which does not load here, so the layout is rebuilt
here and checked side by side against ``Qwen2VLImageProcessor`` (PIL backend): a 2-frame video of one
repeated image gives exactly that processor's ``pixel_values`` for the image.

Patch layout (one row per patch, rows ordered so that each ``merge x merge`` block of neighbours is
contiguous, which the vision tower's patch merger assumes)::

    frames [T, C, H, W] -> [t, tps, C, h/m, m, ps, w/m, m, ps] -> [t, h/m, w/m, m, m, C, tps, ps, ps]
                        -> [t*h*w, C*tps*ps*ps]          (t = T/tps, h = H/ps, w = W/ps, m = merge)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

#: transformers' ``OPENAI_CLIP_MEAN`` / ``OPENAI_CLIP_STD``, the Qwen2-VL image processor's normalisation
#: (restated so that reading media does not import transformers; the side-by-side test checks them).
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class VisionGeometry:
    """The patching numbers of a Qwen2.5-Omni vision tower (``thinker_config.vision_config``)."""

    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2

    @classmethod
    def from_config(cls, vision_config) -> VisionGeometry:
        return cls(
            int(vision_config.patch_size), int(vision_config.temporal_patch_size), int(vision_config.spatial_merge_size)
        )

    @property
    def factor(self) -> int:
        """Frame sides must be multiples of this (one merged patch)."""
        return self.patch_size * self.merge_size

    def tokens(self, grid_thw: tuple[int, int, int]) -> int:
        """LLM tokens for one vision item: t*h*w / merge^2 (transformers' placeholder count)."""
        t, h, w = grid_thw
        return t * h * w // self.merge_size**2


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 [T, H, W, 3] -> uint8 [T, size, size, 3], bicubic with antialiasing (no aspect kept).

    The release resizes decoded uint8 frames with torchvision's ``resize(..., BICUBIC, antialias=True)``,
    which is this same ``torch.nn.functional.interpolate`` call followed by round-and-clamp to uint8.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got {frames.shape}")
    if frames.shape[1] == size and frames.shape[2] == size:
        return np.ascontiguousarray(frames, dtype=np.uint8)
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # [T, 3, H, W]
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    x = x.round_().clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()  # [T, size, size, 3]


@functools.lru_cache(maxsize=1)
def _normalize_table() -> torch.Tensor:
    """float32 [3, 256]: the normalised value of each uint8 level per channel.

    Entry ``[c, v]`` is computed exactly as transformers' image processor computes it for a pixel of value
    ``v`` (``v * (1/255)`` in float64, cast to float32, then ``(x - mean) / std`` in float32), so a lookup
    gives bit-identical results at half the cost of doing the arithmetic on every pixel.
    """
    levels = (np.arange(256, dtype=np.float64) * (1 / 255)).astype(np.float32)
    rows = [(levels - np.float32(m)) / np.float32(s) for m, s in zip(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)]
    return torch.from_numpy(np.stack(rows))


def normalize_frames(frames: np.ndarray) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> float32 [T, 3, H, W]: ``x/255`` then CLIP mean/std, bit-identical to transformers'
    image processor (rescale in float64 then float32; normalisation in float32)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).long()  # [T, 3, H, W]
    table = _normalize_table()
    return torch.stack([table[c][x[:, c]] for c in range(3)], dim=1)


def patchify(frames: torch.Tensor, geo: VisionGeometry) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """float [T, C, H, W] -> (patches [t*h*w, C*tps*ps*ps], grid (t, h, w)).

    T is padded to a multiple of the temporal patch by repeating the last frame (as transformers does).
    """
    T, C, H, W = frames.shape
    ps, tps, m = geo.patch_size, geo.temporal_patch_size, geo.merge_size
    if H % geo.factor or W % geo.factor:
        raise ValueError(f"frame size {H}x{W} is not a multiple of patch*merge = {geo.factor}")
    if T % tps:
        frames = torch.cat([frames, frames[-1:].expand(tps - T % tps, C, H, W)], dim=0)
        T = frames.shape[0]
    t, h, w = T // tps, H // ps, W // ps
    x = frames.reshape(t, tps, C, h // m, m, ps, w // m, m, ps)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)  # [t, h/m, w/m, m, m, C, tps, ps, ps]
    return x.reshape(t * h * w, C * tps * ps * ps).contiguous(), (t, h, w)


def vision_input(frames: np.ndarray, geo: VisionGeometry) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 frames [T, H, W, 3] (already at the model's size) -> (pixel values [P, C*tps*ps*ps],
    grid_thw long [1, 3]). A single frame (T=1) is an image: it is repeated over the temporal patch."""
    patches, grid = patchify(normalize_frames(frames), geo)
    return patches, torch.tensor([grid], dtype=torch.long)
