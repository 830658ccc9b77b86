"""The modular family (Crab's paradigm): vision encoder + audio encoder + per-modality projectors + any causal LM,
built from transformers' parts. Lazy exports, so that reading ``model.modular`` settings imports no torch."""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "settings": ("ModularSettings",),
        "hf_config": ("ModularAVConfig",),
        "presets": ("PRESETS", "ModularDims", "build_modular_config", "preset_dims"),
        "model": ("ModularAVModel",),
        "build": ("build_modular", "parts_tokenizer", "uses_parts"),
    },
)
