"""The audio-visual LLM: Qwen2.5-Omni thinker builders (presets), adapters on it, generation, save/load.

Names are imported lazily (PEP 562), so that reading a configuration (``crabplus.model.config``) does
not import torch and transformers. ``generate`` is not exported here: once its submodule
``crabplus.model.generate`` is imported, Python binds that name on the package to the module, so
``from crabplus.model import generate`` would give the module or the function depending on import order.
Import it as ``from crabplus.model.generate import generate``.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "config": ("ModelConfig",),
        "presets": ("PRESETS", "ThinkerDims", "build_thinker_config", "preset_dims"),
        "build": ("CheckpointError", "attach_adapter", "build_thinker", "resolve_dtype"),
        "family": ("build_backbone",),
        "checkpoint": ("load_checkpoint", "save_checkpoint"),
    },
)
