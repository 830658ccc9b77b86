"""The modular family's shapes: a component builder that takes every number, and named presets that fix them.

:func:`build_modular_config` turns :class:`ModularDims` (+ the tokenizer's vocabulary size and special ids) into a
:class:`~crabplus.model.modular.hf_config.ModularAVConfig`; it builds ``modular-tiny`` whole, and for the real
presets it builds the connector around the parts' own configs read from their local checkpoints
(:mod:`crabplus.model.modular.build`), so the same code runs the tiny test stand-ins and the real parts.

- ``modular-tiny`` (AVSynth on 2 CPU cores): CLIP-style vision tower 64 wide, 2 layers, 56-px frames in 14-px
  patches (16 patch tokens + a class token); Whisper-style audio encoder 64 wide, 2 layers, 128 mel bins at the
  tiny 20 ms hop, 2 s windows; one-layer Q-Formers 64 wide with 8 queries per frame and 4 per one-second audio
  segment (Crab's 32 would be 640 media tokens a clip, most of a CPU step); the LLM has the unified tiny
  thinker's LLM shape (Qwen2, 128 wide, 4 layers). ``modular-tiny-p7``: the same in 7-px patches (64 a frame).
- ``modular-7b``: CLIP ViT-L/14 (224 px, its second-to-last layer, as Crab) + Whisper's encoder (large-v3: 128
  mel bins, 30 s windows) + Qwen2.5-7B-Instruct; Crab's connector: a 2-layer BERT-base Q-Former (768 wide, 12
  heads, cross-attention in every layer) with 32 queries per frame and per one-second segment, then
  Linear-GELU-Linear into the LLM's width.
- ``modular-llama2-7b``: the same with LLaMA-2-7B-chat (Crab's own LLM). ``modular-siglip-7b``: SigLIP's vision
  tower instead of CLIP's (its last layer; no class token).

The audio encoder is Whisper's because BEATs (Crab's) is not in transformers; Whisper's encoder is what
Qwen2.5-Omni's audio tower starts from and what video-SALMONN uses beside BEATs (docs/model.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from transformers import (
    Blip2QFormerConfig,
    CLIPVisionConfig,
    LlamaConfig,
    PreTrainedConfig,
    Qwen2Config,
    SiglipVisionConfig,
    WhisperConfig,
)

from crabplus.model.modular.hf_config import ModularAVConfig

#: Image normalisation of each vision tower kind: OpenAI CLIP's statistics, SigLIP's 0.5.
IMAGE_STATS = {
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    "siglip": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ModularDims:
    """Every number of a modular model. For the real presets the vision, audio and LLM numbers describe the
    checkpoints named (their own config.json is what is built); the connector's numbers are the preset's."""

    vision_kind: str  # clip | siglip
    vision_hidden: int
    vision_layers: int
    vision_heads: int
    vision_intermediate: int
    image_size: int
    patch_size: int
    vision_feature_layer: int  # which hidden state feeds the projector (-1 last, -2 second to last)
    audio_d_model: int
    audio_layers: int
    audio_heads: int
    audio_ffn: int
    audio_window_seconds: float  # the audio encoder reads windows of this length (Whisper: 30 s)
    qformer_hidden: int
    qformer_layers: int
    qformer_heads: int
    qformer_intermediate: int
    vision_queries: int
    audio_queries: int
    llm_kind: str  # qwen2 | llama
    llm_hidden: int
    llm_layers: int
    llm_heads: int
    llm_kv_heads: int
    llm_intermediate: int
    num_mel_bins: int = 128
    mel_hop_length: int = 160
    segment_seconds: float = 1.0
    max_position_embeddings: int = 32768
    vocab_size: int | None = None  # None: the tokenizer's size

    def __post_init__(self) -> None:
        if self.vision_kind not in IMAGE_STATS:
            raise ValueError(f"vision_kind {self.vision_kind!r}: expected one of {sorted(IMAGE_STATS)}")
        if self.llm_kind not in ("qwen2", "llama"):
            raise ValueError(f"llm_kind {self.llm_kind!r}: expected qwen2 or llama")
        if self.window_frames % self.segment_frames:
            raise ValueError(
                f"the audio window ({self.window_frames} mel frames) must hold whole segments of {self.segment_frames}"
            )

    @property
    def segment_frames(self) -> int:
        """Mel frames per audio segment (one second: 100 at Whisper's 10 ms hop, 50 at the tiny 20 ms)."""
        return int(round(self.segment_seconds * SAMPLE_RATE / self.mel_hop_length))

    @property
    def window_frames(self) -> int:
        return int(round(self.audio_window_seconds * SAMPLE_RATE / self.mel_hop_length))


_CRAB_CONNECTOR = {
    "qformer_hidden": 768,
    "qformer_layers": 2,
    "qformer_heads": 12,
    "qformer_intermediate": 3072,
    "vision_queries": 32,
    "audio_queries": 32,
}
_CLIP_L14 = {
    "vision_kind": "clip",
    "vision_hidden": 1024,
    "vision_layers": 24,
    "vision_heads": 16,
    "vision_intermediate": 4096,
    "image_size": 224,
    "patch_size": 14,
    "vision_feature_layer": -2,
}
_WHISPER_LARGE_ENCODER = {
    "audio_d_model": 1280,
    "audio_layers": 32,
    "audio_heads": 20,
    "audio_ffn": 5120,
    "audio_window_seconds": 30.0,
}
_QWEN25_7B = {
    "llm_kind": "qwen2",
    "llm_hidden": 3584,
    "llm_layers": 28,
    "llm_heads": 28,
    "llm_kv_heads": 4,
    "llm_intermediate": 18944,
    "vocab_size": 152064,
}

PRESETS: dict[str, ModularDims] = {
    "modular-tiny": ModularDims(
        vision_kind="clip",
        vision_hidden=64,
        vision_layers=2,
        vision_heads=2,
        vision_intermediate=128,
        image_size=56,
        patch_size=14,
        vision_feature_layer=-1,
        audio_d_model=64,
        audio_layers=2,
        audio_heads=2,
        audio_ffn=128,
        audio_window_seconds=2.0,
        mel_hop_length=320,
        qformer_hidden=64,
        qformer_layers=1,
        qformer_heads=2,
        qformer_intermediate=128,
        vision_queries=8,
        audio_queries=4,
        llm_kind="qwen2",
        llm_hidden=128,
        llm_layers=4,
        llm_heads=4,
        llm_kv_heads=2,
        llm_intermediate=384,
        max_position_embeddings=4096,
    ),
    "modular-7b": ModularDims(**_CLIP_L14, **_WHISPER_LARGE_ENCODER, **_CRAB_CONNECTOR, **_QWEN25_7B),
    "modular-llama2-7b": ModularDims(
        **_CLIP_L14,
        **_WHISPER_LARGE_ENCODER,
        **_CRAB_CONNECTOR,
        llm_kind="llama",
        llm_hidden=4096,
        llm_layers=32,
        llm_heads=32,
        llm_kv_heads=32,
        llm_intermediate=11008,
        max_position_embeddings=4096,
        vocab_size=32000,
    ),
    "modular-siglip-7b": ModularDims(
        **{
            **_CLIP_L14,
            "vision_kind": "siglip",
            "vision_hidden": 1152,
            "vision_layers": 27,
            "vision_heads": 16,
            "vision_intermediate": 4304,
            "image_size": 384,
            "vision_feature_layer": -1,
        },
        **_WHISPER_LARGE_ENCODER,
        **_CRAB_CONNECTOR,
        **_QWEN25_7B,
    ),
}

#: ``modular-tiny-p7``: ``modular-tiny`` with 7-px patches (64 patch tokens a 56-px frame), the unified tiny
#: tower's patch (whose shape per token rose from 0.69 to 0.93 with it); the projectors and stage 0 pool them to
#: the same 2 x 2 grid of quarters, so the LLM sees as many vision tokens as with ``modular-tiny``.
PRESETS["modular-tiny-p7"] = dataclasses.replace(PRESETS["modular-tiny"], patch_size=7)

#: Keys of :func:`crabplus.schema.tokens.special_token_ids` the config needs.
TOKEN_KEYS = ("pad", "im_end", "audio", "image", "video")


def preset_dims(name: str) -> ModularDims:
    if name not in PRESETS:
        raise ValueError(f"unknown modular preset {name!r} (known: {sorted(PRESETS)})")
    return PRESETS[name]


def vision_config(dims: ModularDims) -> PreTrainedConfig:
    cls = CLIPVisionConfig if dims.vision_kind == "clip" else SiglipVisionConfig
    return cls(
        hidden_size=dims.vision_hidden,
        num_hidden_layers=dims.vision_layers,
        num_attention_heads=dims.vision_heads,
        intermediate_size=dims.vision_intermediate,
        image_size=dims.image_size,
        patch_size=dims.patch_size,
    )


def audio_config(dims: ModularDims) -> WhisperConfig:
    """A Whisper config whose encoder reads windows of ``audio_window_seconds`` (the decoder is never built)."""
    return WhisperConfig(
        d_model=dims.audio_d_model,
        encoder_layers=dims.audio_layers,
        encoder_attention_heads=dims.audio_heads,
        encoder_ffn_dim=dims.audio_ffn,
        decoder_layers=1,
        decoder_attention_heads=dims.audio_heads,
        decoder_ffn_dim=dims.audio_ffn,
        num_mel_bins=dims.num_mel_bins,
        max_source_positions=dims.window_frames // 2,
    )


def text_config(dims: ModularDims, vocab_size: int, token_ids: dict[str, int]) -> PreTrainedConfig:
    cls = Qwen2Config if dims.llm_kind == "qwen2" else LlamaConfig
    return cls(
        vocab_size=vocab_size,
        hidden_size=dims.llm_hidden,
        intermediate_size=dims.llm_intermediate,
        num_hidden_layers=dims.llm_layers,
        num_attention_heads=dims.llm_heads,
        num_key_value_heads=dims.llm_kv_heads,
        max_position_embeddings=dims.max_position_embeddings,
        pad_token_id=token_ids["pad"],
        eos_token_id=token_ids["im_end"],
        tie_word_embeddings=False,
    )


def build_modular_config(
    dims: ModularDims,
    vocab_size: int,
    token_ids: dict[str, int],
    *,
    projector: str = "qformer",
    vision_queries: int | None = None,
    audio_queries: int | None = None,
    vision_places: bool = False,
    vision_positions: str = "sequence",
    vision_merge: str = "mean",
    mrope_section: list[int] | None = None,
    vision: PreTrainedConfig | None = None,
    audio: WhisperConfig | None = None,
    text: PreTrainedConfig | None = None,
) -> ModularAVConfig:
    """The config of a modular model of these numbers; ``vision``/``audio``/``text`` replace the parts' configs
    built from ``dims`` (the real presets pass their checkpoints' own). The mel hop goes into the audio config as
    ``mel_hop_length`` (read by the processor, as the unified tiny preset does)."""
    missing = [k for k in TOKEN_KEYS if k not in token_ids]
    if missing:
        raise ValueError(f"special token ids: missing {missing}")
    vision = vision if vision is not None else vision_config(dims)
    audio = audio if audio is not None else audio_config(dims)
    text = text if text is not None else text_config(dims, vocab_size, token_ids)
    if audio.num_mel_bins != dims.num_mel_bins:
        dims = dataclasses.replace(dims, num_mel_bins=int(audio.num_mel_bins))
    audio.mel_hop_length = dims.mel_hop_length
    window = 2 * int(audio.max_source_positions)
    segment = min(dims.segment_frames, window)
    kind = "clip" if vision.model_type.startswith("clip") else "siglip"
    mean, std = IMAGE_STATS[kind]
    qformer = Blip2QFormerConfig(
        hidden_size=dims.qformer_hidden,
        num_hidden_layers=dims.qformer_layers,
        num_attention_heads=dims.qformer_heads,
        intermediate_size=dims.qformer_intermediate,
        encoder_hidden_size=vision.hidden_size,
        cross_attention_frequency=1,
        vocab_size=2,
        max_position_embeddings=max(vision_queries or dims.vision_queries, audio_queries or dims.audio_queries),
    )
    return ModularAVConfig(
        vision_config=vision,
        audio_config=audio,
        text_config=text,
        qformer_config=qformer,
        projector=projector,
        vision_queries=vision_queries or dims.vision_queries,
        audio_queries=audio_queries or dims.audio_queries,
        vision_places=vision_places,
        vision_positions=vision_positions,
        vision_merge=vision_merge,
        mrope_section=list(mrope_section) if mrope_section is not None else None,
        audio_segment_frames=segment,
        vision_feature_layer=dims.vision_feature_layer,
        image_mean=list(mean),
        image_std=list(std),
        audio_token_id=token_ids["audio"],
        image_token_id=token_ids["image"],
        video_token_id=token_ids["video"],
        pad_token_id=token_ids["pad"],
        eos_token_id=token_ids["im_end"],
    )
