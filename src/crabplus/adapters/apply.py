"""Putting adapters on a model: which layers, what trains, what is saved, per-batch router inputs.

Target rule: an ``nn.Linear`` whose name's last component is in ``target_modules``. The release matches
by plain string suffix over the whole thinker, which also hits the audio encoder's q/k/v and the vision
encoder's MLP (the release; docs/model.md); here that is the explicit switch ``encoders=True``. With it off, layers
inside a submodule named ``audio_tower`` or ``visual`` (the thinker's encoders) are left alone; a model
without such submodules has every matching layer adapted.

One filter (:func:`is_adapter_key`) decides both what trains and what an adapter checkpoint holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from crabplus.adapters.config import ILoRAConfig
from crabplus.adapters.layer import ILoRALinear, ILoRARouter

#: Names of the thinker's encoder submodules (transformers 5.24 and the release alike).
ENCODER_MODULES = ("audio_tower", "visual")

#: The substring every adapter parameter name contains (ours and PEFT's: ``….lora_A.weight``,
#: ``….lora_A.default.weight``) and no base parameter does.
ADAPTER_MARK = ".lora_"


def is_adapter_key(name: str) -> bool:
    """True for adapter parameters/state-dict keys: the one filter for training and saving."""
    return ADAPTER_MARK in name


def in_encoder(name: str) -> bool:
    """Whether the layer of this dotted name sits inside an encoder submodule (``audio_tower``, ``visual``)."""
    return any(p in ENCODER_MODULES for p in name.split(".")[:-1])


def target_names(model: nn.Module, target_modules: list[str], encoders: bool) -> list[str]:
    """Dotted names of the ``nn.Linear`` layers an adapter with these settings wraps."""
    targets = set(target_modules)
    names = []
    for name, module in model.named_modules():
        parts = name.split(".")
        if not isinstance(module, nn.Linear) or parts[-1] not in targets:
            continue
        if not encoders and in_encoder(name):
            continue
        names.append(name)
    return names


def freeze_base(model: nn.Module) -> None:
    """Adapter parameters train, everything else is frozen."""
    for name, param in model.named_parameters():
        param.requires_grad_(is_adapter_key(name))


def trainable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, parameter) of what the optimizer should update: the adapter after :func:`apply_ilora` or
    PEFT LoRA, every parameter of a model without an adapter (the tiny base stage)."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's tensors by state-dict key (detached; the same filter as training)."""
    return {k: v.detach() for k, v in model.state_dict().items() if is_adapter_key(k)}


def ilora_layers(model: nn.Module) -> Iterator[tuple[str, ILoRALinear]]:
    for name, module in model.named_modules():
        if isinstance(module, ILoRALinear):
            yield name, module


def _routers(model: nn.Module) -> Iterator[ILoRARouter]:
    return (m for m in model.modules() if isinstance(m, ILoRARouter))


def apply_ilora(model: nn.Module, config: ILoRAConfig) -> nn.Module:
    """Wrap every targeted ``nn.Linear`` of ``model`` in place with :class:`ILoRALinear`, freeze every
    other parameter and return the model. Its forward keeps its signature; at init it equals the base."""
    if any(True for _ in ilora_layers(model)):
        raise ValueError("apply_ilora: the model already has I-LoRA layers")
    names = target_names(model, config.target_modules, config.encoders)
    if not names:
        raise ValueError(f"apply_ilora: no nn.Linear named {config.target_modules} in {type(model).__name__}")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = ILoRALinear(getattr(parent, child), config)
        layer.lora_route.per_sample = not in_encoder(name)  # see ILoRARouter.per_sample
        setattr(parent, child, layer)
    freeze_base(model)
    return model


def prepare_inference(model: nn.Module) -> None:
    """Make every I-LoRA layer's inference weights ([A; R] and s B cast to the base's dtype) now, so that
    a compiled graph finds them made (inside ``torch.compile`` the layer uses them without checking)."""
    for _, layer in ilora_layers(model):
        layer.inference_weights(layer.weight.dtype)


def ilora_config(model: nn.Module) -> ILoRAConfig | None:
    """The configuration the model's I-LoRA layers were made with (None without I-LoRA)."""
    return next((layer.config for _, layer in ilora_layers(model)), None)


def set_task_ids(model: nn.Module, task_ids: torch.Tensor | None) -> None:
    """Set the per-sample task ids [B] (long) that task-conditioned routers add to their logits in the
    next forward passes (``None`` clears them). Forward's signature stays the thinker's own."""
    if task_ids is not None:
        task_ids = torch.as_tensor(task_ids, dtype=torch.long).reshape(-1)
    for router in _routers(model):
        router.task_ids = task_ids


def balance_loss(model: nn.Module) -> torch.Tensor:
    """The load-balancing loss to add to the training loss: ``balance_loss_weight`` times the mean over
    adapted layers of each router's loss in the last training forward (1.0 each when balanced).

    A zero tensor when the option is off or nothing was recorded (e.g. in eval mode). Works through
    wrappers (DDP, FSDP, PEFT): it reads the routers, wherever they sit.
    """
    routers = [r for r in _routers(model) if r.aux_loss is not None]
    if not routers:
        return torch.zeros((), device=next(model.parameters()).device)
    weighted = torch.stack([r.balance_weight * r.aux_loss for r in routers])  # [layers]
    return weighted.mean()
