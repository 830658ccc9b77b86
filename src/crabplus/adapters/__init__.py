"""Adapters: I-LoRA (config / layer / apply / save / load / import of the official Crab+ weights), the
plain-LoRA baseline through PEFT, and routing statistics. Contract: docs/model.md.

Names are imported lazily (PEP 562), so that reading a configuration (``crabplus.adapters.config``)
does not import torch and PEFT.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "config": ("AdapterLoadError", "ILoRAConfig", "LoRAConfig"),
        "apply": (
            "adapter_state_dict",
            "apply_ilora",
            "balance_loss",
            "freeze_base",
            "ilora_config",
            "ilora_layers",
            "is_adapter_key",
            "prepare_inference",
            "set_task_ids",
            "target_names",
            "trainable_parameters",
        ),
        "kinds": (
            "ADAPTER_KINDS",
            "AdapterKind",
            "adapter_kind",
            "apply_adapter",
            "load_adapter",
            "read_adapter_config",
            "register_adapter",
            "save_adapter",
            "unregister_adapter",
        ),
        "layer": ("ILoRALinear", "ILoRARouter"),
        "lora": ("apply_lora", "is_peft"),
        "peft_method": ("ILoRAPeftConfig", "ILoRAPeftModel", "write_peft_ilora"),
        "official": ("export_official_ilora", "load_official_ilora", "official_to_native"),
        "routing": ("RoutingRecorder",),
    },
)
