"""I-LoRA as a PEFT method: ``get_peft_model(model, ILoRAPeftConfig(...))``, ``save_pretrained`` and
``PeftModel.from_pretrained`` work once this module is imported (``from crabplus.adapters import
ILoRAPeftConfig`` imports it).

The layer is our :class:`~crabplus.adapters.layer.ILoRALinear`, not a second implementation: PEFT's tuner
layer :class:`ILoRAPeftLinear` keeps the frozen ``nn.Linear`` as ``base_layer`` (as PEFT's LoRA does, so
``unload()`` gives it back) and one ``ILoRALinear`` per adapter name in ``ilora_adapter``; forward calls the
active one, which computes ``W0 x + b + s Σ g_i B_i A x`` with the same (shared) base weight.

Files: ``adapter_config.json`` (``"peft_type": "ILORA"`` and the fields below) and
``adapter_model.safetensors`` whose keys are ``base_model.model.<path>.lora_A.weight`` /
``.lora_B.weight`` (the N heads stacked, [d_out, N r]) / ``.lora_route.weight``: exactly our own layout
(:mod:`crabplus.adapters.official`) behind PEFT's prefix, so either side converts to the other by renaming
keys only (:func:`write_peft_ilora`).

PEFT 0.21.2's ``register_peft_method`` requires the name to be a member of its ``PeftType`` enum, which
lists only PEFT's own methods; :func:`_peft_type` adds ``ILORA`` to it (once, idempotently).
A converted folder's ``adapter_config.json`` names its type :data:`HINT_TYPE`, not the bare ``ILORA``: PEFT looks
the type up before anything else and, without this module imported, fails with ``KeyError: '<the type>'`` and
nothing more, so the type itself says what to import; this module maps it (and ``ILORA``) to the config.
I-LoRA cannot be merged into W0 (the router weights depend on each token), so ``merge*`` raise.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from peft import PeftConfig
from peft.mapping import PEFT_TYPE_TO_TUNER_MAPPING
from peft.tuners.tuners_utils import BaseTuner, BaseTunerLayer, check_target_module_exists
from peft.utils.peft_types import PeftType, register_peft_method
from torch import nn

from crabplus.adapters.apply import in_encoder, is_adapter_key
from crabplus.adapters.config import ILoRAConfig
from crabplus.adapters.layer import ILoRALinear

NAME = "ilora"
PREFIX = "ilora_"
#: The attribute of :class:`ILoRAPeftLinear` holding one ILoRALinear per adapter name.
HOLDER = "ilora_adapter"
PEFT_PREFIX = "base_model.model."
WEIGHTS_FILE = "adapter_model.safetensors"
#: ``peft_type`` as written by :func:`write_peft_ilora`: the whole of PEFT's error when crabplus is not imported.
HINT_TYPE = "ILORA (an I-LoRA adapter: run `import crabplus.adapters.peft_method` first, it registers I-LoRA with PEFT)"


def _peft_type(name: str = NAME.upper()) -> PeftType:
    """``PeftType.<name>``, adding the member to PEFT's enum when it is not there yet."""
    if name in PeftType.__members__:
        return PeftType[name]
    member = str.__new__(PeftType, name)
    member._name_, member._value_ = name, name
    member.__objclass__ = PeftType
    PeftType._member_map_[name] = member
    PeftType._value2member_map_[name] = member
    PeftType._member_names_.append(name)
    type.__setattr__(PeftType, name, member)
    return member


@dataclass
class ILoRAPeftConfig(PeftConfig, ILoRAConfig):
    """PEFT configuration of I-LoRA: PEFT's fields and :class:`~crabplus.adapters.ILoRAConfig`'s own (the one
    declaration of the I-LoRA settings, inherited, with its checks).

    ``target_modules``: the last component of an ``nn.Linear``'s name (a list; PEFT's suffix match) — the
    release's seven projections by default. ``encoders=False`` leaves layers inside the thinker's
    ``audio_tower``/``visual`` alone, as :func:`~crabplus.adapters.apply_ilora` does.
    """

    exclude_modules: list[str] | None = None

    def __post_init__(self) -> None:
        PeftConfig.__post_init__(self)
        self.peft_type = _peft_type()
        if isinstance(self.target_modules, str) or not self.target_modules:
            raise ValueError("ILoRAPeftConfig.target_modules: give a list of layer names (e.g. ['q_proj', 'v_proj'])")
        self.target_modules = list(self.target_modules)
        ILoRAConfig.__post_init__(self)

    def ilora(self) -> ILoRAConfig:
        """The I-LoRA settings alone (what the layer is built from)."""
        return ILoRAConfig(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(ILoRAConfig)})

    @classmethod
    def from_ilora(cls, config: ILoRAConfig, **peft_fields) -> ILoRAPeftConfig:
        return cls(**{f.name: copy.copy(getattr(config, f.name)) for f in fields(ILoRAConfig)}, **peft_fields)


def _shared_base_is_not_missing(module: nn.Module, incompatible) -> None:
    """The ILoRALinear's ``weight``/``bias`` are the base layer's own Parameters (loaded as
    ``base_layer.*``), never adapter tensors: an adapter load must not report them missing."""
    shared = [k for k in incompatible.missing_keys if f".{HOLDER}." in k and not is_adapter_key(k)]
    for key in shared:
        incompatible.missing_keys.remove(key)


class ILoRAPeftLinear(nn.Module, BaseTunerLayer):
    """PEFT's tuner layer around the frozen ``base_layer``: ``ilora_adapter[name]`` is our ILoRALinear."""

    adapter_layer_names = (HOLDER,)

    def __init__(
        self, base_layer: nn.Linear, adapter_name: str, config: ILoRAPeftConfig, *, per_sample: bool = True
    ) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.per_sample = per_sample  # False inside an encoder (see ILoRARouter.per_sample)
        self.ilora_adapter = nn.ModuleDict()
        self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        self.update_layer(adapter_name, config)
        self._active_adapter = adapter_name
        self.register_load_state_dict_post_hook(_shared_base_is_not_missing)

    def update_layer(self, adapter_name: str, config: ILoRAPeftConfig) -> None:
        self.ilora_adapter[adapter_name] = ILoRALinear(self.base_layer, config.ilora())
        self.ilora_adapter[adapter_name].lora_route.per_sample = self.per_sample

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if self.disable_adapters:
            return self.base_layer(x, *args, **kwargs)
        active = [a for a in self.active_adapters if a in self.ilora_adapter]
        if not active:
            return self.base_layer(x, *args, **kwargs)
        if len(active) > 1:
            raise ValueError(f"I-LoRA: one active adapter at a time, got {active}")
        return self.ilora_adapter[active[0]](x)

    def set_adapter(self, adapter_names: str | list[str], inference_mode: bool = False) -> None:
        # PEFT's version sets requires_grad on the whole ILoRALinear, which holds the base's (frozen) weight too.
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        for key in self.ilora_adapter:
            self._adapter_requires_grad(key, key in names and not inference_mode)
        self._active_adapter = names

    def set_requires_grad(self, adapter_names: str | list[str], requires_grad: bool = True) -> None:
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        for key in self.ilora_adapter:
            if key in names:
                self._adapter_requires_grad(key, requires_grad)

    def _adapter_requires_grad(self, key: str, requires_grad: bool) -> None:
        for name, param in self.ilora_adapter[key].named_parameters():
            param.requires_grad_(requires_grad and is_adapter_key("." + name))

    def merge(self, safe_merge: bool = False, adapter_names=None) -> None:
        raise NotImplementedError("I-LoRA cannot be merged into the base weight: its router mixes the heads per token")

    def __repr__(self) -> str:
        return f"ilora.{super().__repr__()}"


class ILoRAPeftModel(BaseTuner):
    """The PEFT tuner: puts :class:`ILoRAPeftLinear` on every targeted ``nn.Linear`` (apply_ilora's rule)."""

    prefix: str = PREFIX
    tuner_layer_cls = ILoRAPeftLinear
    target_module_mapping: dict = {}

    def _prepare_adapter_config(self, peft_config: ILoRAPeftConfig, model_config: dict) -> ILoRAPeftConfig:
        return peft_config  # target_modules always set (the release's by default)

    @staticmethod
    def _check_target_module_exists(peft_config: ILoRAPeftConfig, key: str):
        if not peft_config.encoders and in_encoder(key):
            return False
        return check_target_module_exists(peft_config, key)

    def _create_and_replace(
        self, peft_config, adapter_name, target, target_name, parent, current_key, parameter_name=None
    ) -> None:
        if isinstance(target, ILoRAPeftLinear):
            target.update_layer(adapter_name, peft_config)
            return
        if type(target) is not nn.Linear:
            raise ValueError(f"I-LoRA adapts nn.Linear layers only; {current_key} is {type(target).__name__}")
        new = ILoRAPeftLinear(target, adapter_name, peft_config, per_sample=not in_encoder(current_key))
        self._replace_module(parent, target_name, new, target)

    def _mark_only_adapters_as_trainable(self, model: nn.Module) -> None:
        # The same filter as apply_ilora's: everything without ".lora_" in its name is frozen; whether the
        # adapter's own tensors train (active adapter, not inference mode) is set_adapter's business.
        for name, param in model.named_parameters():
            if not is_adapter_key(name):
                param.requires_grad_(False)

    def _cast_adapter_dtype(self, adapter_name: str, autocast_adapter_dtype: bool = True) -> None:
        pass  # ILoRALinear already keeps float32 adapters on a half-precision base

    @classmethod
    def _get_adapter_state_dict(cls, model, config, adapter_name, state_dict, unwanted_adapter_names):
        # Only the adapter's own tensors: the ILoRALinear also holds the (shared) frozen base weight.
        return {k: v for k, v in state_dict.items() if f".{HOLDER}.{adapter_name}." in k and is_adapter_key(k)}

    @classmethod
    def _remove_adapter_name_from_key(cls, key: str, adapter_name: str) -> str:
        return key.replace(f".{HOLDER}.{adapter_name}.", ".")  # -> <path>.lora_A.weight: our own layout

    @classmethod
    def _remap_adapter_state_dict_for_load(cls, model, config, adapter_name, state_dict):
        to_model = {}
        for key in model.state_dict():
            if f".{HOLDER}.{adapter_name}." in key and is_adapter_key(key):
                saved = cls._remove_adapter_name_from_key(key, adapter_name)
                to_model[saved] = key
                if not key.startswith(PEFT_PREFIX):
                    to_model[PEFT_PREFIX + saved] = key
        return {to_model.get(k, k): v for k, v in state_dict.items()}


def register() -> None:
    """Register I-LoRA with PEFT (idempotent; runs when this module is imported)."""
    peft_type = _peft_type()
    if peft_type not in PEFT_TYPE_TO_TUNER_MAPPING:
        register_peft_method(name=NAME, config_cls=ILoRAPeftConfig, model_cls=ILoRAPeftModel, prefix=PREFIX)
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    PEFT_TYPE_TO_CONFIG_MAPPING[HINT_TYPE] = ILoRAPeftConfig  # the loaded config says ILORA again (__post_init__)


register()


def native_to_peft_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our-layout adapter tensors (``<path>.lora_A.weight`` …) -> the PEFT file's keys."""
    return {PEFT_PREFIX + k: v.contiguous() for k, v in state.items()}


def write_peft_ilora(
    directory: str | Path,
    state: dict[str, torch.Tensor],
    config: ILoRAConfig,
    base_model_name_or_path: str | None = None,
) -> Path:
    """Write our-layout I-LoRA tensors as a PEFT adapter directory (into an existing or new directory)
    that ``PeftModel.from_pretrained(base, directory)`` loads once this module is imported."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    peft_config = ILoRAPeftConfig.from_ilora(
        config, base_model_name_or_path=base_model_name_or_path, inference_mode=True
    )
    save_file(native_to_peft_state(state), str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    peft_config.save_pretrained(str(directory))
    config_file = directory / "adapter_config.json"
    written = json.loads(config_file.read_text(encoding="utf-8"))
    written["peft_type"] = HINT_TYPE  # what PEFT prints when crabplus is not imported (module notes)
    config_file.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
    return directory
