"""What the processor writes for a modular model (crabplus.schema.layouts): frames as whole images, token counts per
frame and per audio segment, and Crab's prompt layout.

Crab's user turn is a video block, an audio block, then the instruction (the release of Crab:
``This is a video:\\n<video>\\nThis is an audio:\\n<audio>\\n<instruction>``); the chat around it (system prompt,
``<|im_start|>`` turns, the supervised span) stays the processor's, so labels, parsers and generation are shared with
the unified family. Frames are resized to the processor's square size and normalised with the vision tower's own
mean and std (CLIP's or SigLIP's, from the model config), no patching: the tower patches them itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from crabplus.schema.layouts import audio_segments

#: The caption before each block, by what the block holds (registry ``visual`` kinds; two audios for v2a).
BLOCK_CAPTIONS = {
    "video": "This is a video:",
    "image": "This is an image:",
    "two_videos": "These are two videos, one after the other:",
    "audio": "This is an audio:",
    "two_audios": "These are two audio clips, one after the other:",
}


@dataclass(frozen=True)
class ModularMedia:
    """The numbers of a modular model config (``ModularAVConfig``) that the processor needs."""

    vision_queries: int
    audio_queries: int
    segment_frames: int
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    patch_size: int

    @classmethod
    def from_config(cls, config) -> ModularMedia:
        return cls(
            int(config.vision_queries),
            int(config.audio_queries),
            int(config.audio_segment_frames),
            tuple(config.image_mean),
            tuple(config.image_std),
            int(config.vision_config.patch_size),
        )

    def vision_input(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int]:
        """uint8 [T, S, S, 3] -> (float32 [T, 3, S, S] normalised, grid long [1, 3] = (T, S, S), LLM tokens)."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # [T, 3, S, S]
        mean = torch.tensor(self.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        t, _, h, w = x.shape
        return (x - mean) / std, torch.tensor([[t, h, w]], dtype=torch.long), t * self.vision_queries

    def audio_tokens(self, mel_frames: int) -> int:
        """LLM tokens for ``mel_frames`` valid frames: ``audio_queries`` per (started) segment."""
        return audio_segments(mel_frames, self.segment_frames) * self.audio_queries


def crab_user_content(spec, instruction: str) -> list[dict]:
    """The user turn in Crab's layout: the video (or image) block, the audio block, then the instruction."""
    vision = "image" if spec.visual == "image" else "video"
    return [
        {"type": "text", "text": BLOCK_CAPTIONS[spec.visual] + "\n"},
        {"type": vision},
        {"type": "text", "text": "\n" + BLOCK_CAPTIONS["two_audios" if spec.two_audios else "audio"] + "\n"},
        {"type": "audio"},
        {"type": "text", "text": "\n" + instruction},
    ]
