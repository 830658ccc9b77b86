"""``model.modular``: the settings of the modular family (Crab's paradigm), read only when ``model.family`` is
``modular``. Kept free of torch imports, as every configuration is.

Where the parts come from: ``model.checkpoint`` (one of our saved modular runs) wins; without it, the real
presets load the three local checkpoints named here (``vision``: a CLIP or SigLIP directory, ``audio``: a Whisper
directory, ``llm``: any causal LM directory with its tokenizer) and build fresh projectors, and ``modular-tiny``
builds everything with random weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crabplus.config.core import ConfigError

#: The parts of a modular model, by the name ``trainable`` uses.
PARTS = ("vision", "audio", "projectors", "llm")


@dataclass
class ModularSettings:
    """``projector``: ``qformer`` (a BLIP-2 Q-Former per modality with learned queries, then Linear-GELU-Linear:
    Crab's connector) or ``mlp`` (the encoder's tokens average-pooled to the same number, then the same
    Linear-GELU-Linear). ``vision_queries`` / ``audio_queries``: tokens per frame / per one-second audio
    segment (None: the preset's; Crab uses 32 and 32). ``vision_places``: add a learned embedding per vision
    token slot after the projector (``mlp`` only: its slots are fixed regions of the frame, so each vision token
    then carries where in the frame it is; a modular LLM's 1-D positions do not say it). ``vision_positions``:
    ``sequence`` (any causal LM's own 1-D positions, Crab's) or ``grid`` (each vision token gets a time, a height
    and a width position in the LLM's rotary embedding, split over ``mrope_section`` frequency pairs as the
    unified thinker's M-RoPE is: ``mlp`` only, ``vision_queries`` a square k x k grid of the frame; for a
    Qwen2-style rotary LLM). ``vision_merge`` (``grid`` only): how a block's patch tokens become its one token,
    ``mean`` (averaged) or ``concat`` (side by side before the Linear, keeping the block's layout, as the unified
    thinker's merger does; the tower's patch grid must split into whole blocks). ``trainable``: the
    parts that train when the model has no adapter (``model.adapter: none``, the projector stage); with an
    adapter only the adapter trains.
    """

    vision: str | None = None
    audio: str | None = None
    llm: str | None = None
    projector: Literal["qformer", "mlp"] = "qformer"
    vision_queries: int | None = None
    audio_queries: int | None = None
    vision_places: bool = False
    vision_positions: Literal["sequence", "grid"] = "sequence"
    vision_merge: Literal["mean", "concat"] = "mean"
    mrope_section: list[int] | None = None
    trainable: list[str] = field(default_factory=lambda: ["projectors"])

    def __post_init__(self) -> None:
        for name in ("vision_queries", "audio_queries"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"model.modular.{name} must be >= 1, got {value}")
        if self.vision_places and self.projector != "mlp":
            raise ConfigError(
                "model.modular.vision_places needs model.modular.projector: mlp (a Q-Former's query slots are not "
                f"places in the frame), got projector {self.projector!r}"
            )
        if self.vision_positions not in ("sequence", "grid"):
            raise ConfigError(
                f"model.modular.vision_positions must be 'sequence' or 'grid', got {self.vision_positions!r}"
            )
        if self.vision_positions == "grid":
            if self.projector != "mlp":
                raise ConfigError(
                    "model.modular.vision_positions: grid needs model.modular.projector: mlp (its tokens are regions "
                    f"of the frame; a Q-Former's queries are not), got projector {self.projector!r}"
                )
            if self.mrope_section is None or len(self.mrope_section) != 3 or min(self.mrope_section) < 1:
                raise ConfigError(
                    "model.modular.vision_positions: grid needs model.modular.mrope_section, the rotary frequency "
                    f"pairs given to time, height and width (three positive numbers), got {self.mrope_section}"
                )
        if self.vision_merge not in ("mean", "concat"):
            raise ConfigError(f"model.modular.vision_merge must be 'mean' or 'concat', got {self.vision_merge!r}")
        if self.vision_merge == "concat" and self.vision_positions != "grid":
            raise ConfigError(
                "model.modular.vision_merge: concat needs model.modular.vision_positions: grid (its tokens are "
                f"blocks of the frame), got vision_positions {self.vision_positions!r}"
            )
        unknown = [p for p in self.trainable if p not in PARTS]
        if unknown or not self.trainable:
            raise ConfigError(
                f"model.modular.trainable: expected a non-empty list of {list(PARTS)}, got {self.trainable}"
            )

    @property
    def parts(self) -> dict[str, str | None]:
        return {"vision": self.vision, "audio": self.audio, "llm": self.llm}
