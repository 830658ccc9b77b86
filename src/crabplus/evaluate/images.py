"""Frames and ground-truth masks of segmentation records, read from the data root.

- GT mask: ``answer.mask`` (a PNG), read as grey and binarised with ``> 0`` (benchmarks.md §3: the
  0/255-vs-index pitfall of palette PNGs does not arise).
- Frame: ``media.image`` read with PIL as RGB and resized (bilinear) to the mask's size, or
  ``media.video`` + ``media.frame_second`` through the media pipeline's ``read_frame_at``. Without
  a GT mask the frame keeps its own size (a video frame is read at 224 x 224).

A missing or unreadable file is a :class:`RecordError` naming the record and the field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from crabplus.schema.geometry import SPACE
from crabplus.schema.records import Record, RecordError, resolve_media

VIDEO_FRAME_SIDE = SPACE  # a video frame is read at the model's side


def _open(record: Record, root: Path, rel: str, field: str) -> Image.Image:
    path = resolve_media(root, rel)
    if not path.is_file():
        raise RecordError(f"file not found: {path}", record_id=record.id, field=field)
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise RecordError(f"cannot read image {path}: {exc}", record_id=record.id, field=field) from None
    return image


class FrameSource:
    """Reads a segmentation record's GT mask and frame; ``root_of(record)`` gives its data root."""

    def __init__(self, root_of: Callable[[Record], Path | None]):
        self.root_of = root_of

    def _root(self, record: Record, field: str) -> Path:
        root = self.root_of(record)
        if root is None:
            raise RecordError(
                "no data root given: cannot read media for segmentation scoring", record_id=record.id, field=field
            )
        return Path(root)

    def gt_mask(self, record: Record) -> np.ndarray | None:
        """bool [H, W] from ``answer.mask``; None when the record has no mask."""
        if record.answer.mask is None:
            return None
        image = _open(record, self._root(record, "answer.mask"), record.answer.mask, "answer.mask")
        return np.asarray(image.convert("L")) > 0

    def frame(self, record: Record, size_hw: tuple[int, int] | None) -> np.ndarray:
        """uint8 [H, W, 3] RGB; resized to ``size_hw`` (the GT mask's size) when given."""
        media = record.media
        if media.image is not None:
            image = _open(record, self._root(record, "media.image"), media.image, "media.image").convert("RGB")
            if size_hw is not None and image.size != (size_hw[1], size_hw[0]):
                image = image.resize((size_hw[1], size_hw[0]), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
        if media.video is None or media.frame_second is None:
            raise RecordError(
                "needs media.image, or media.video with media.frame_second", record_id=record.id, field="media.image"
            )
        from crabplus.data.media import read_frame_at  # lazy: the media pipeline pulls in PyAV

        path = resolve_media(self._root(record, "media.video"), media.video)
        side = max(size_hw) if size_hw is not None else VIDEO_FRAME_SIDE
        frame = np.asarray(read_frame_at(path, media.frame_second, side), dtype=np.uint8)  # [side, side, 3]
        if size_hw is not None and frame.shape[:2] != tuple(size_hw):
            frame = np.asarray(Image.fromarray(frame).resize((size_hw[1], size_hw[0]), Image.BILINEAR))
        return frame
