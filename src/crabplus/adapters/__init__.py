"""Adapters: I-LoRA (config / layer / apply / save / load / import of the official Crab+ weights), the
plain-LoRA baseline through PEFT, and routing statistics. Contract: GUIDE.md §4.

Names are imported lazily (PEP 562), so that reading a configuration (``crabplus.adapters.config``)
does not import torch and PEFT.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "crabplus.adapters.config": ("AdapterLoadError", "ILoRAConfig", "LoRAConfig"),
    "crabplus.adapters.apply": (
        "adapter_state_dict", "apply_ilora", "balance_loss", "freeze_base", "ilora_config", "ilora_layers",
        "is_adapter_key", "set_task_ids", "target_names", "trainable_parameters",
    ),
    "crabplus.adapters.io": ("load_adapter", "read_adapter_config", "save_adapter"),
    "crabplus.adapters.layer": ("ILoRALinear", "ILoRARouter"),
    "crabplus.adapters.lora": ("apply_lora", "is_peft"),
    "crabplus.adapters.official": ("export_official_ilora", "load_official_ilora", "official_to_native"),
    "crabplus.adapters.routing": ("RoutingRecorder",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'crabplus.adapters' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
