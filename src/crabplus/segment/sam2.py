"""SAM 2.1 through transformers' ``Sam2Model``, with weights from a local directory.

Crab+ prompts SAM 2.1 (Hiera-L) with the predicted box and points, all labels positive,
``multimask_output=False``, and keeps the mask (the release; docs/evaluation.md). transformers' SAM 2 image processor
needs torchvision, which this project does not use, so the preprocessing is ours and mirrors the
processor's defaults: resize to the model's square input side (bilinear), scale to [0, 1],
normalise with the ImageNet mean/std (or the directory's ``preprocessor_config.json``), prompts
scaled from 224-pixel space to that side; the low-resolution mask logits are resized bilinearly
to the image and thresholded at 0 (``post_process_masks``).

The directory must be in transformers' format (``config.json`` + ``model.safetensors``), e.g.
``facebook/sam2.1-hiera-large`` saved locally; nothing is downloaded. Image embeddings are cached
per image, so several prompts on one frame (our prediction and the chance baseline) encode it once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from crabplus.segment.base import FRAME, check_image
from crabplus.utils.errors import CrabplusError
from crabplus.utils.io import read_json

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SegmenterError(CrabplusError, ValueError):
    """A segmenter cannot be built from what the user gave (the message names the path)."""

    exit_code = 2


def check_checkpoint(checkpoint: str | Path | None) -> Path:
    """The checkpoint folder, or a :class:`SegmenterError` saying what is wrong with it (cheap: no loading)."""
    if checkpoint is None:
        raise SegmenterError("the sam2 segmenter needs --sam2-checkpoint DIR (a local transformers SAM 2 folder)")
    path = Path(checkpoint)
    if not path.is_dir():
        raise SegmenterError(f"{path}: SAM 2 checkpoint directory not found")
    if not (path / "config.json").is_file():
        raise SegmenterError(
            f"{path}: no config.json; expected a transformers SAM 2 folder "
            "(config.json + model.safetensors), not the original .pt checkpoint"
        )
    return path


class Sam2Segmenter:
    """``segment(image, box_224, points_224)`` with a local SAM 2 checkpoint (or a given model)."""

    name = "sam2"

    def __init__(self, checkpoint: str | Path | None = None, *, model=None, device: str | None = None):
        import torch

        if model is None:
            model = self._load(checkpoint)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        side = self.model.config.prompt_encoder_config.image_size
        self.side = int(side[0] if isinstance(side, list | tuple) else side)
        self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD
        if checkpoint is not None:
            self._read_preprocessor(Path(checkpoint))
        self._cache_key: str | None = None
        self._cache_embeddings = None

    @staticmethod
    def _load(checkpoint):
        path = check_checkpoint(checkpoint)
        from transformers import Sam2Model

        try:
            return Sam2Model.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise SegmenterError(f"{path}: cannot load a SAM 2 model: {exc}") from exc

    def _read_preprocessor(self, path: Path) -> None:
        cfg_path = path / "preprocessor_config.json"
        if not cfg_path.is_file():
            return
        cfg = read_json(cfg_path, SegmenterError)
        self.mean = tuple(cfg.get("image_mean", self.mean))
        self.std = tuple(cfg.get("image_std", self.std))

    def _pixels(self, image: np.ndarray):
        import torch

        resized = Image.fromarray(image).resize((self.side, self.side), Image.BILINEAR)
        x = np.asarray(resized, dtype=np.float32) / 255.0  # [S, S, 3]
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return torch.from_numpy(x).permute(2, 0, 1)[None].to(self.device)  # [1, 3, S, S]

    def _embeddings(self, image: np.ndarray):
        import torch

        key = hashlib.sha1(image.tobytes()).hexdigest() + str(image.shape)
        if key != self._cache_key:
            with torch.no_grad():
                self._cache_embeddings = self.model.get_image_embeddings(self._pixels(image))
            self._cache_key = key
        return self._cache_embeddings

    def segment(self, image, box_224, points_224) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        image = check_image(image)
        h, w = image.shape[:2]
        if box_224 is None and not points_224:
            return np.zeros((h, w), dtype=bool)
        scale = self.side / FRAME
        kwargs = {}
        if box_224 is not None:
            kwargs["input_boxes"] = torch.tensor([[list(box_224)]], dtype=torch.float32, device=self.device) * scale
        if points_224:
            pts = torch.tensor([[list(map(list, points_224))]], dtype=torch.float32, device=self.device) * scale
            kwargs["input_points"] = pts  # [1, 1, P, 2]
            kwargs["input_labels"] = torch.ones(pts.shape[:3], dtype=torch.long, device=self.device)  # [1, 1, P]
        with torch.no_grad():
            out = self.model(image_embeddings=self._embeddings(image), multimask_output=False, **kwargs)
        low = out.pred_masks[:, 0, :1].float()  # [1, 1, h', w'] the single mask
        up = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)  # [1, 1, H, W]
        return (up[0, 0] > 0).cpu().numpy()
