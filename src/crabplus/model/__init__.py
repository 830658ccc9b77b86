"""The audio-visual LLM: Qwen2.5-Omni thinker builders (presets), adapters on it, generation, save/load.

Names are imported lazily (PEP 562), so that reading a configuration (``crabplus.model.config``) does
not import torch and transformers.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "config": ("ModelConfig",),
    "presets": ("PRESETS", "ThinkerDims", "build_thinker_config", "preset_dims"),
    "build": ("CheckpointError", "attach_adapter", "build_thinker", "resolve_dtype"),
    "checkpoint": ("load_checkpoint", "save_checkpoint"),
    "generate": ("generate",),
})
