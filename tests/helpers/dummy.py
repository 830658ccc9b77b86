"""Synthetic thinker inputs with the processor's layout: placeholder runs of the right length and random
media features, for tests and benchmarks of the model alone (a test helper, not shipped: real samples come
from :class:`crabplus.data.processor.CrabProcessor`; batch both with :func:`crabplus.data.collate.collate`).

A sample is ``<|im_start|>`` prompt ``<|vision_bos|><|VIDEO|>…<|vision_eos|><|audio_bos|><|AUDIO|>…
<|audio_eos|><|im_end|><|im_start|>`` answer ``<|im_end|>``, labels on the answer and its ``<|im_end|>``.
For a modular model's config (crabplus.schema.layouts) the placeholder runs are its query counts and the media
its layout: whole frames, and mel frames cut into segments by the model.
"""

from __future__ import annotations

import torch
from transformers import Qwen2_5OmniThinkerConfig

from crabplus.data.audio_features import audio_token_count
from crabplus.data.processor import IGNORE_INDEX
from crabplus.schema.layouts import audio_segments, is_modular


def dummy_sample(
    config: Qwen2_5OmniThinkerConfig,
    prompt_ids: list[int],
    answer_ids: list[int] | None,
    *,
    im_start: int,
    frames: int = 4,
    frame_px: int = 56,
    mel_frames: int = 100,
    generator: torch.Generator | None = None,
    token_ids: dict[str, int] | None = None,
) -> dict[str, torch.Tensor]:
    """One sample: a ``frames``-frame video of ``frame_px``-pixel frames and ``mel_frames`` audio frames.
    ``answer_ids=None`` gives a generation prompt (no answer, no labels). ``token_ids`` (special_token_ids of the
    tokenizer) gives a modular model its block markers, which its config does not hold."""
    vision, audio = config.vision_config, config.audio_config
    modular = is_modular(config)
    if modular:
        n_video = frames * config.vision_queries
        n_audio = audio_segments(mel_frames, config.audio_segment_frames) * config.audio_queries
        vision_bos, vision_eos, audio_bos, audio_eos = (
            token_ids[k] for k in ("vision_bos", "vision_eos", "audio_bos", "audio_eos")
        )
    else:
        grid = (frames // vision.temporal_patch_size, frame_px // vision.patch_size, frame_px // vision.patch_size)
        n_video = grid[0] * grid[1] * grid[2] // vision.spatial_merge_size**2
        n_audio = audio_token_count(mel_frames)
        vision_bos, vision_eos = config.vision_start_token_id, config.vision_end_token_id
        audio_bos, audio_eos = config.audio_start_token_id, config.audio_end_token_id
    im_end = token_ids["im_end"] if token_ids is not None else config.text_config.eos_token_id
    prompt = (
        [im_start, *prompt_ids, vision_bos]
        + [config.video_token_id] * n_video
        + [vision_eos, audio_bos]
        + [config.audio_token_id] * n_audio
        + [audio_eos, im_end, im_start]
    )
    ids = torch.tensor(prompt if answer_ids is None else prompt + [*answer_ids, im_end])  # [L]
    text = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if answer_ids is not None:
        text["labels"] = torch.full_like(ids, IGNORE_INDEX)
        text["labels"][len(prompt) :] = ids[len(prompt) :]
    features = {
        "input_features": torch.randn(1, audio.num_mel_bins, mel_frames, generator=generator),  # [1, mels, F]
        "feature_attention_mask": torch.ones(1, mel_frames, dtype=torch.long),  # [1, F]
    }
    if modular:
        return {
            **text,
            **features,
            "pixel_values_videos": torch.randn(frames, 3, frame_px, frame_px, generator=generator),  # [T, 3, S, S]
            "video_grid_thw": torch.tensor([[frames, frame_px, frame_px]]),
        }
    patch_dim = vision.in_channels * vision.temporal_patch_size * vision.patch_size**2
    return {
        **text,
        "pixel_values_videos": torch.randn(grid[0] * grid[1] * grid[2], patch_dim, generator=generator),
        "video_grid_thw": torch.tensor([grid]),  # [1, 3]
        "video_second_per_grid": torch.tensor([float(vision.temporal_patch_size)]),  # 1 fps: 2 s per grid
        "input_features": torch.randn(1, audio.num_mel_bins, mel_frames, generator=generator),  # [1, mels, F]
        "feature_attention_mask": torch.ones(1, mel_frames, dtype=torch.long),  # [1, F]
    }
