"""Model configuration: which backbone preset, from where, in which dtype, with which adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crabplus.adapters.config import ILoRAConfig, LoRAConfig
from crabplus.config.core import ConfigError
from crabplus.model.modular.settings import ModularSettings

PRESETS = ("tiny", "omni-3b", "omni-7b")
#: The modular family's presets (crabplus.model.modular.presets; docs/model.md).
MODULAR_PRESETS = ("modular-tiny", "modular-7b", "modular-llama2-7b", "modular-siglip-7b")
#: Presets built with random weights and trained on the CPU (float32, no GPU by default).
TINY_PRESETS = ("tiny", "modular-tiny")


@dataclass
class ModelConfig:
    """``preset`` fixes the dimensions (``tiny`` trains on a CPU; ``omni-7b``/``omni-3b`` are the real
    shapes). ``checkpoint`` is a local directory: a released Qwen2.5-Omni checkpoint for the real
    presets, or one of our saved runs; ``None`` builds random weights (tests, the demo's base stage).

    ``family``: ``unified`` (Qwen2.5-Omni's thinker: Crab+'s paradigm) or ``modular`` (vision encoder + audio
    encoder + projectors + any causal LM: Crab's paradigm, settings in ``modular``); ``family: modular`` with
    the default preset picks ``modular-tiny``.
    """

    family: Literal["unified", "modular"] = "unified"
    preset: str = "tiny"
    checkpoint: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    adapter: Literal["ilora", "lora", "none"] = "ilora"
    ilora: ILoRAConfig = field(default_factory=ILoRAConfig)
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    modular: ModularSettings = field(default_factory=ModularSettings)
    gradient_checkpointing: bool = False
    attn_implementation: Literal["eager", "sdpa"] = "sdpa"

    def __post_init__(self) -> None:
        if self.family == "modular" and self.preset == "tiny":
            self.preset = "modular-tiny"
        known = MODULAR_PRESETS if self.family == "modular" else PRESETS
        if self.preset not in known:
            other = "unified" if self.family == "modular" else "modular"
            hint = f" ({self.preset!r} is a {other} preset: set model.family: {other})" if self.preset in (
                PRESETS + MODULAR_PRESETS) else ""
            raise ConfigError(f"model.preset: expected one of {list(known)} for model.family {self.family!r}, "
                              f"got {self.preset!r}{hint}")
