"""Backbone shapes: a component builder that takes every dimension, and named presets that fix them.

:func:`build_thinker_config` turns :class:`ThinkerDims` plus the tokenizer's vocabulary size and special
token ids into a transformers ``Qwen2_5OmniThinkerConfig``; tests and the demo call it through the
``tiny`` preset, the real presets describe the released checkpoints (docs/architecture.md).

- ``tiny``: 1.7M parameters with both encoders and the 2048-token tiny tokenizer (0.5M of them the
  embedding and output matrices); vision patch 14, temporal patch 2, 2x2 merge, so a 56-px frame pair
  gives 2x2 merged tokens; 128 mel bins at a 20 ms hop (12.5 audio tokens per second, half the released
  models' 25: on 2 CPU cores audio tokens were most of a sample, and AVSynth's fastest sound feature, a 5 Hz
  vibrato, needs far less).
- ``omni-7b``: Qwen2.5-Omni-7B's thinker (the release's shapes, docs/model.md). ``omni-3b``: Qwen2.5-Omni-3B's
  (its LLM is Qwen2.5-3B-shaped; encoders as the 7B's). Both load from a local checkpoint, whose own
  config.json is used; these numbers check it and size benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import Qwen2_5OmniThinkerConfig


@dataclass(frozen=True)
class ThinkerDims:
    """Every dimension of a Qwen2.5-Omni thinker (LLM, audio encoder, vision encoder)."""

    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    mrope_section: tuple[int, int, int]  # temporal, height, width parts of head_dim / 2
    audio_d_model: int
    audio_layers: int
    audio_heads: int
    audio_ffn: int
    vision_depth: int
    vision_hidden: int
    vision_heads: int
    vision_intermediate: int
    vision_fullatt_blocks: tuple[int, ...]
    num_mel_bins: int = 128
    mel_hop_length: int = 160  # samples at 16 kHz between mel frames (Whisper's 10 ms)
    audio_n_window: int = 100
    max_source_positions: int = 1500
    patch_size: int = 14
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    vision_window_size: int = 112
    rope_theta: float = 1_000_000.0
    max_position_embeddings: int = 32768
    tie_word_embeddings: bool = False
    vocab_size: int | None = None  # None: the tokenizer's size

    def __post_init__(self) -> None:
        head_dim = self.hidden_size // self.num_heads
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"hidden {self.hidden_size}, heads {self.num_heads}, kv heads {self.num_kv_heads}: "
                "heads must divide hidden and kv heads must divide heads"
            )
        if sum(self.mrope_section) * 2 != head_dim:
            raise ValueError(f"mrope_section {self.mrope_section} must sum to head_dim/2 = {head_dim // 2}")
        if any(not 0 <= i < self.vision_depth for i in self.vision_fullatt_blocks):
            raise ValueError(f"vision_fullatt_blocks {self.vision_fullatt_blocks} outside depth {self.vision_depth}")


PRESETS: dict[str, ThinkerDims] = {
    "tiny": ThinkerDims(
        hidden_size=128,
        num_layers=4,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=384,
        mrope_section=(4, 6, 6),
        audio_d_model=64,
        audio_layers=2,
        audio_heads=2,
        audio_ffn=128,
        vision_depth=2,
        vision_hidden=64,
        vision_heads=2,
        vision_intermediate=128,
        vision_fullatt_blocks=(1,),
        max_position_embeddings=4096,
        mel_hop_length=320,
        patch_size=7,
        spatial_merge_size=4,
    ),
    "omni-3b": ThinkerDims(
        hidden_size=2048,
        num_layers=36,
        num_heads=16,
        num_kv_heads=2,
        intermediate_size=11008,
        mrope_section=(16, 24, 24),
        audio_d_model=1280,
        audio_layers=32,
        audio_heads=20,
        audio_ffn=5120,
        vision_depth=32,
        vision_hidden=1280,
        vision_heads=16,
        vision_intermediate=3420,
        vision_fullatt_blocks=(7, 15, 23, 31),
        vocab_size=151936,
    ),
    "omni-7b": ThinkerDims(
        hidden_size=3584,
        num_layers=28,
        num_heads=28,
        num_kv_heads=4,
        intermediate_size=18944,
        mrope_section=(16, 24, 24),
        audio_d_model=1280,
        audio_layers=32,
        audio_heads=20,
        audio_ffn=5120,
        vision_depth=32,
        vision_hidden=1280,
        vision_heads=16,
        vision_intermediate=3420,
        vision_fullatt_blocks=(7, 15, 23, 31),
        vocab_size=152064,
    ),
}

#: Keys of :func:`crabplus.schema.tokens.special_token_ids` the thinker config needs.
TOKEN_KEYS = ("pad", "im_end", "audio", "audio_bos", "audio_eos", "image", "video", "vision_bos", "vision_eos")


def build_thinker_config(dims: ThinkerDims, vocab_size: int, token_ids: dict[str, int]) -> Qwen2_5OmniThinkerConfig:
    """The thinker configuration for these dimensions, vocabulary and special token ids."""
    missing = [k for k in TOKEN_KEYS if k not in token_ids]
    if missing:
        raise ValueError(f"special token ids: missing {missing}")
    text = {
        "vocab_size": vocab_size,
        "hidden_size": dims.hidden_size,
        "intermediate_size": dims.intermediate_size,
        "num_hidden_layers": dims.num_layers,
        "num_attention_heads": dims.num_heads,
        "num_key_value_heads": dims.num_kv_heads,
        "max_position_embeddings": dims.max_position_embeddings,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": dims.rope_theta,
            "mrope_section": list(dims.mrope_section),
        },
        "pad_token_id": token_ids["pad"],
        "eos_token_id": token_ids["im_end"],
        "tie_word_embeddings": dims.tie_word_embeddings,
    }
    audio = {
        "num_mel_bins": dims.num_mel_bins,
        "encoder_layers": dims.audio_layers,
        "encoder_attention_heads": dims.audio_heads,
        "encoder_ffn_dim": dims.audio_ffn,
        "d_model": dims.audio_d_model,
        "n_window": dims.audio_n_window,
        "max_source_positions": dims.max_source_positions,
        "output_dim": dims.hidden_size,
    }
    if dims.mel_hop_length != 160:  # released configs have no such key: absent means Whisper's 10 ms
        audio["mel_hop_length"] = dims.mel_hop_length
    vision = {
        "depth": dims.vision_depth,
        "hidden_size": dims.vision_hidden,
        "intermediate_size": dims.vision_intermediate,
        "num_heads": dims.vision_heads,
        "patch_size": dims.patch_size,
        "temporal_patch_size": dims.temporal_patch_size,
        "spatial_merge_size": dims.spatial_merge_size,
        "window_size": dims.vision_window_size,
        "out_hidden_size": dims.hidden_size,
        "fullatt_block_indexes": list(dims.vision_fullatt_blocks),
    }
    return Qwen2_5OmniThinkerConfig(
        text_config=text,
        audio_config=audio,
        vision_config=vision,
        audio_token_index=token_ids["audio"],
        image_token_index=token_ids["image"],
        video_token_index=token_ids["video"],
        audio_start_token_id=token_ids["audio_bos"],
        audio_end_token_id=token_ids["audio_eos"],
        vision_start_token_id=token_ids["vision_bos"],
        vision_end_token_id=token_ids["vision_eos"],
        pad_token_id=token_ids["pad"],
        eos_token_id=token_ids["im_end"],
        tie_word_embeddings=dims.tie_word_embeddings,
    )


def preset_dims(name: str) -> ThinkerDims:
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r} (known: {sorted(PRESETS)})")
    return PRESETS[name]
