"""The audio-visual LLM: Qwen2.5-Omni thinker builders (presets), adapters on it, generation, save/load.

Names are imported lazily (PEP 562), so that reading a configuration (``crabplus.model.config``) does
not import torch and transformers.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "crabplus.model.config": ("ModelConfig",),
    "crabplus.model.presets": ("PRESETS", "ThinkerDims", "build_thinker_config", "preset_dims"),
    "crabplus.model.build": ("CheckpointError", "attach_adapter", "build_thinker", "resolve_dtype"),
    "crabplus.model.checkpoint": ("load_checkpoint", "save_checkpoint"),
    "crabplus.model.generate": ("generate",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'crabplus.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
