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
    then carries where in the frame it is; a modular LLM's 1-D positions do not say it). ``trainable``: the
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
        unknown = [p for p in self.trainable if p not in PARTS]
        if unknown or not self.trainable:
            raise ConfigError(
                f"model.modular.trainable: expected a non-empty list of {list(PARTS)}, got {self.trainable}"
            )

    @property
    def parts(self) -> dict[str, str | None]:
        return {"vision": self.vision, "audio": self.audio, "llm": self.llm}
