"""Finding one named submodule of a model, whatever wraps it (DDP, FSDP, PEFT add name prefixes)."""

from __future__ import annotations

from torch import nn


def only_module(model: nn.Module, name: str) -> nn.Module:
    """The one submodule whose own name (the last part of its dotted path) is ``name``; a model with none
    or several is refused, since a hook or an init on the wrong one would go unnoticed."""
    found = [m for path, m in model.named_modules() if path.split(".")[-1] == name]
    if not found:
        raise ValueError(f"the model has no {name} module")
    if len(found) > 1:
        raise ValueError(f"the model has {len(found)} {name} modules, expected exactly one")
    return found[0]
