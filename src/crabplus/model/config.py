"""Model configuration: which backbone preset, from where, in which dtype, with which adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crabplus.adapters.config import ILoRAConfig, LoRAConfig
from crabplus.adapters.kinds import ADAPTER_KINDS, NO_ADAPTER, adapter_kind
from crabplus.config.core import ConfigError, from_dict
from crabplus.model.modular.settings import ModularSettings

PRESETS = ("tiny", "omni-3b", "omni-7b")
#: The modular family's presets (crabplus.model.modular.presets; docs/model.md).
MODULAR_PRESETS = ("modular-tiny", "modular-tiny-p7", "modular-7b", "modular-llama2-7b", "modular-siglip-7b")
#: Presets built with random weights and trained on the CPU (float32, no GPU by default).
TINY_PRESETS = ("tiny", "modular-tiny", "modular-tiny-p7")

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

    ``family``: ``unified`` (Qwen2.5-Omni's thinker: Crab+'s paradigm) or ``modular`` (vision encoder + audio
    encoder + projectors + any causal LM: Crab's paradigm, settings in ``modular``); ``family: modular`` with
    the default preset picks ``modular-tiny``.
    """

    family: Literal["unified", "modular"] = "unified"
    preset: str = "tiny"
    checkpoint: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    adapter: str = "ilora"
    ilora: ILoRAConfig = field(default_factory=ILoRAConfig)
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    adapter_options: dict[str, Any] = field(default_factory=dict)
    modular: ModularSettings = field(default_factory=ModularSettings)
    gradient_checkpointing: bool = False
    attn_implementation: Literal["eager", "sdpa"] = "sdpa"

    @property
    def names_parts(self) -> bool:
        """A modular model to assemble from the part checkpoints ``modular.vision/audio/llm`` names (released
        ones, or those a modular base wrote), not from its preset alone."""
        return self.family == "modular" and any(self.modular.parts.values())

    def __post_init__(self) -> None:
        if self.family == "modular" and self.preset == "tiny":
            self.preset = "modular-tiny"
        known = MODULAR_PRESETS if self.family == "modular" else PRESETS
        if self.preset not in known:
            other = "unified" if self.family == "modular" else "modular"
            hint = (
                f" ({self.preset!r} is a {other} preset: set model.family: {other})"
                if self.preset in (PRESETS + MODULAR_PRESETS)
                else ""
            )
            raise ConfigError(
                f"model.preset: expected one of {list(known)} for model.family {self.family!r}, "
                f"got {self.preset!r}{hint}"
            )
        if self.adapter != NO_ADAPTER:
            kind = adapter_kind(self.adapter)
            if kind.apply is None:
                raise ConfigError(
                    f"model.adapter: {self.adapter!r} is a file layout that loads only; train with "
                    f"one of {[n for n, k in ADAPTER_KINDS.items() if k.apply is not None]}"
                )
            self.adapter_settings()  # the options are checked now, not when the model is built
        if self.adapter_options and (self.adapter == NO_ADAPTER or adapter_kind(self.adapter).section):
            raise ConfigError(
                f"model.adapter_options: read only by an adapter kind without a section of its own; "
                f"{self.adapter!r} reads " + (f"model.{self.adapter}" if self.adapter != NO_ADAPTER else "nothing")
            )

    def adapter_settings(self) -> Any:
        """The settings of ``adapter`` (its config class), or None for ``none``."""
        if self.adapter == NO_ADAPTER:
            return None
        kind = adapter_kind(self.adapter)
        if kind.section is not None:
            return getattr(self, kind.section)
        return from_dict(kind.config_cls, self.adapter_options, prefix="model.adapter_options")
