"""Plain LoRA through PEFT on the same layers as I-LoRA: the baseline of the transfer study.

The targets are resolved with the same rule as I-LoRA (:func:`~crabplus.adapters.apply.target_names`)
and handed to PEFT as full module names, so both adapters sit on exactly the same layers. The model is
wrapped in a generic ``PeftModel`` (no task type): forward and ``generate`` reach the thinker's own,
with its multimodal keyword arguments untouched.
"""

from __future__ import annotations

from peft import LoraConfig as PeftLoraConfig
from peft import PeftModel, get_peft_model
from torch import nn

from crabplus.adapters.apply import freeze_base, target_names
from crabplus.adapters.config import LoRAConfig


def apply_lora(model: nn.Module, config: LoRAConfig) -> PeftModel:
    """Wrap ``model`` with PEFT LoRA (rank, alpha, dropout from ``config``) on the I-LoRA targets; only
    the LoRA parameters train. Returns the ``PeftModel``."""
    names = target_names(model, config.target_modules, config.encoders)
    if not names:
        raise ValueError(f"apply_lora: no nn.Linear named {config.target_modules} in {type(model).__name__}")
    peft_config = PeftLoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout, target_modules=names, bias="none",
    )
    wrapped = get_peft_model(model, peft_config)
    freeze_base(wrapped)  # PEFT already does; the shared filter makes the rule one and the same
    return wrapped


def is_peft(model: nn.Module) -> bool:
    return isinstance(model, PeftModel)
