"""The modular model's transformers configuration: its parts' own configs side by side, plus the connector's numbers.

A transformers ``PreTrainedConfig`` (as LLaVA's composes a CLIP config and a LLaMA one), so that ``config.json``
round-trips through ``save_pretrained`` / ``from_pretrained`` with each part's config as its own library writes it:
``vision_config`` (``clip_vision_model`` or ``siglip_vision_model``), ``audio_config`` (``whisper``),
``text_config`` (any causal LM's: ``qwen2``, ``llama``, ...) and ``qformer_config`` (BLIP-2's ``blip_2_qformer``).
The processor reads the top-level numbers (``vision_queries``, ``audio_queries``, ``audio_segment_frames``,
``image_mean``/``image_std``, the placeholder ids) and ``audio_config.num_mel_bins`` / ``mel_hop_length``
(crabplus.schema.layouts).

``vision_positions: grid`` gives the vision tokens time / height / width rotary positions as the unified thinker's
M-RoPE does (:mod:`crabplus.model.modular.positions`): ``mrope_section`` frequency pairs per axis; a frame's
``vision_queries`` tokens are a square grid; ``grid_frames_per_time`` frames share one time position (the
thinker's temporal patch) and the time position advances ``grid_time_step`` per such group (the thinker's 25
positions a second at 2 frames a second). ``vision_merge`` (grid only): how a block's patches become its token —
``mean`` or ``concat`` (side by side before the projector's Linear, as the unified thinker's merger does).
"""

from __future__ import annotations

import math

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, Blip2QFormerConfig
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec

from crabplus.schema.layouts import MODULAR_MODEL_TYPE


@strict(accept_kwargs=True)
class ModularAVConfig(PreTrainedConfig):
    """Vision encoder + audio encoder + one projector per modality + a causal LM (docs/model.md, "modular")."""

    model_type = MODULAR_MODEL_TYPE
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_vision_model"),
        "audio_config": SubConfigSpec(config_class=AutoConfig, model_type="whisper"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen2"),
        "qformer_config": SubConfigSpec(config_class=Blip2QFormerConfig),
    }

    vision_config: dict | PreTrainedConfig | None = None
    audio_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    qformer_config: dict | PreTrainedConfig | None = None
    projector: str = "qformer"
    vision_queries: int = 32
    audio_queries: int = 32
    vision_places: bool = False
    vision_positions: str = "sequence"
    vision_merge: str = "mean"
    mrope_section: list[int] | None = None
    grid_frames_per_time: int = 2
    grid_time_step: int = 25
    audio_segment_frames: int = 100
    vision_feature_layer: int = -2
    image_mean: list[float] | None = None
    image_std: list[float] | None = None
    audio_token_id: int = 0
    image_token_id: int = 0
    video_token_id: int = 0
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.projector not in ("qformer", "mlp"):
            raise ValueError(f"projector must be 'qformer' or 'mlp', got {self.projector!r}")
        if self.vision_places and self.projector != "mlp":
            raise ValueError("vision_places needs the 'mlp' projector (its slots are regions of the frame)")
        if self.vision_positions not in ("sequence", "grid"):
            raise ValueError(f"vision_positions must be 'sequence' or 'grid', got {self.vision_positions!r}")
        if self.vision_merge not in ("mean", "concat"):
            raise ValueError(f"vision_merge must be 'mean' or 'concat', got {self.vision_merge!r}")
        if self.vision_positions == "grid":
            self._check_grid()
        elif self.vision_merge != "mean":
            raise ValueError("vision_merge 'concat' needs vision_positions 'grid' (its tokens are blocks of the frame)")
        window = 2 * int(self.audio_config.max_source_positions)  # mel frames per audio-encoder window
        if window % self.audio_segment_frames:
            raise ValueError(
                f"audio_segment_frames {self.audio_segment_frames} must divide the audio encoder's "
                f"window of {window} mel frames (2 x max_source_positions)"
            )
        if self.audio_segment_frames % 2:
            raise ValueError(f"audio_segment_frames {self.audio_segment_frames} must be even (the encoder halves it)")
        if self.tie_word_embeddings != bool(getattr(self.text_config, "tie_word_embeddings", False)):
            self.tie_word_embeddings = bool(getattr(self.text_config, "tie_word_embeddings", False))

    def _check_grid(self) -> None:
        if self.projector != "mlp":
            raise ValueError("vision_positions 'grid' needs the 'mlp' projector (its tokens are regions of the frame)")
        side = math.isqrt(self.vision_queries)
        if side * side != self.vision_queries:
            raise ValueError(f"vision_positions 'grid': vision_queries {self.vision_queries} is not a square grid")
        text = self.text_config
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        section = list(self.mrope_section or [])
        if len(section) != 3 or min(section) < 1 or sum(section) * 2 != head_dim:
            raise ValueError(
                f"vision_positions 'grid': mrope_section {self.mrope_section} must be three positive numbers "
                f"summing to the LLM's head_dim / 2 = {head_dim // 2}"
            )
        side = self.vision_patch_side
        if self.vision_merge == "concat" and side % self.vision_grid:
            raise ValueError(
                f"vision_merge 'concat': the tower's {side} x {side} patches do not split into a "
                f"{self.vision_grid} x {self.vision_grid} grid of whole blocks"
            )

    @property
    def vision_grid(self) -> int:
        """Tokens along each side of a frame's square grid (``vision_positions: grid``)."""
        return math.isqrt(self.vision_queries)

    @property
    def vision_patches_per_token(self) -> int:
        """Patches in one vision token's block of a frame of the tower's ``image_size`` (``grid``; else 1)."""
        if self.vision_positions != "grid":
            return 1
        return (self.vision_patch_side // self.vision_grid) ** 2

    @property
    def vision_patch_side(self) -> int:
        """Patches along each side of a frame of the vision tower's own ``image_size``."""
        return int(self.vision_config.image_size) // int(self.vision_config.patch_size)

    @property
    def vision_has_cls(self) -> bool:
        """CLIP's vision tower prepends a class token (dropped before the projector); SigLIP's has none."""
        return self.vision_config.model_type.startswith("clip")


AutoConfig.register(MODULAR_MODEL_TYPE, ModularAVConfig, exist_ok=True)
