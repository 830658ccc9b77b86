"""Model configuration: which backbone preset, from where, in which dtype, with which adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from crabplus.adapters.config import ILoRAConfig, LoRAConfig
from crabplus.config.core import ConfigError

PRESETS = ("tiny", "omni-3b", "omni-7b")

#: ``model.checkpoint: shipped`` names the tiny perception-pretrained base inside the package, so the tiny
#: configs run on a fresh clone without a base trained first (crabplus/assets/base, see its PROVENANCE.md).
SHIPPED = "shipped"
SHIPPED_BASE = Path(__file__).resolve().parent.parent / "assets" / "base"


def checkpoint_path(checkpoint: str | Path) -> Path:
    """The folder a ``model.checkpoint`` value names: the shipped base for ``shipped``, else the path."""
    return SHIPPED_BASE if str(checkpoint) == SHIPPED else Path(checkpoint)


@dataclass
class ModelConfig:
    """``preset`` fixes the dimensions (``tiny`` trains on a CPU; ``omni-7b``/``omni-3b`` are the real
    shapes). ``checkpoint`` is a local directory: a released Qwen2.5-Omni checkpoint for the real
    presets, or one of our saved runs; ``shipped`` is the tiny base shipped in the package (the demo's);
    ``None`` builds random weights (tests, the demo's base stage).
    """

    preset: str = "tiny"
    checkpoint: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    adapter: Literal["ilora", "lora", "none"] = "ilora"
    ilora: ILoRAConfig = field(default_factory=ILoRAConfig)
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    gradient_checkpointing: bool = False
    attn_implementation: Literal["eager", "sdpa"] = "sdpa"

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"model.preset: expected one of {list(PRESETS)}, got {self.preset!r}")
