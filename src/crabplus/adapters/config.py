"""Adapter configurations: I-LoRA (ours) and plain LoRA (the PEFT baseline).

Kept free of torch imports so that configuration loading stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crabplus.config.core import ConfigError
from crabplus.utils.errors import CrabplusError

#: The release's target list (docs/model.md): attention and MLP projections of the LLM.
RELEASE_TARGET_MODULES: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "down_proj",
    "up_proj",
)


class AdapterLoadError(CrabplusError, ValueError):
    """Adapter weights do not fit the model: the message lists the missing, unexpected and mis-shaped keys."""


@dataclass
class ILoRAConfig:
    """Interaction-aware LoRA: one shared down-projection A, ``num_experts`` up-projection heads B_i
    and a per-token softmax router (docs/model.md). Release values: r=128, alpha=256, N=3, dropout 0.1.

    ``encoders=True`` also adapts what the release's suffix matching hits inside the audio encoder
    (q/k/v) and the vision encoder's MLP (gate/up/down); off by default, an explicit switch.
    ``top_k`` (None = dense), ``balance_loss_weight`` (0 = off) and ``task_conditioned`` (router also
    sees a learned task embedding) are options beyond the paper, each default off.
    """

    rank: int = 128
    alpha: float = 256.0
    num_experts: int = 3
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: list(RELEASE_TARGET_MODULES))
    encoders: bool = False
    top_k: int | None = None
    balance_loss_weight: float = 0.0
    task_conditioned: bool = False
    num_tasks: int = 0

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ConfigError(f"ilora.rank must be >= 1, got {self.rank}")
        if self.num_experts < 1:
            raise ConfigError(f"ilora.num_experts must be >= 1, got {self.num_experts}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"ilora.dropout must be in [0, 1), got {self.dropout}")
        if self.top_k is not None and not 1 <= self.top_k <= self.num_experts:
            raise ConfigError(f"ilora.top_k must be in [1, num_experts={self.num_experts}], got {self.top_k}")
        if self.balance_loss_weight < 0:
            raise ConfigError(f"ilora.balance_loss_weight must be >= 0, got {self.balance_loss_weight}")
        if not self.target_modules:
            raise ConfigError("ilora.target_modules must name at least one module")
        if self.task_conditioned and self.num_tasks < 1:
            raise ConfigError("ilora.task_conditioned needs ilora.num_tasks >= 1")

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


@dataclass
class LoRAConfig:
    """Plain LoRA through PEFT on the same targets: the baseline of the transfer study."""

    rank: int = 128
    alpha: float = 256.0
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: list(RELEASE_TARGET_MODULES))
    encoders: bool = False

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ConfigError(f"lora.rank must be >= 1, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora.dropout must be in [0, 1), got {self.dropout}")


@dataclass
class OfficialConvertConfig:
    """``crabplus convert official-ilora``: the release's ``source`` file (finetune_weights.bin) -> the adapter
    directory ``out``. The file stores neither ``alpha`` nor ``dropout``: they are recorded as given (the release
    trained with 256 and 0.1). ``expect_tensors``: fail unless the file holds exactly this many (the release:
    1940). ``layout``: ours (``adapter.safetensors``) or PEFT's (``adapter_model.safetensors``)."""

    source: str | None = field(
        default=None, metadata={"help": "the release's finetune_weights.bin (or lora_weights.bin)", "metavar": "FILE"}
    )
    out: str | None = field(default=None, metadata={"help": "the adapter directory to write", "metavar": "DIR"})
    alpha: float = field(
        default=256.0,
        metadata={"help": "LoRA alpha the file was trained with (release: 256; scale = alpha / r)", "metavar": "A"},
    )
    dropout: float = field(default=0.1, metadata={"help": "adapter dropout to record (release: 0.1)", "metavar": "P"})
    expect_tensors: int | None = field(
        default=None,
        metadata={"help": "fail unless the file holds exactly this many tensors (the release: 1940)", "metavar": "N"},
    )
    layout: Literal["crabplus", "peft"] = field(
        default="crabplus",
        metadata={
            "help": "crabplus: adapter.safetensors (load_adapter, checkpoints); peft: PEFT's adapter_model.safetensors "
            "for PeftModel.from_pretrained"
        },
    )


@dataclass
class PeftConvertConfig:
    """``crabplus convert peft-ilora``: our I-LoRA adapter directory (or a checkpoint folder holding ``adapter/``)
    ``source`` -> a PEFT adapter directory ``out``; ``base`` is the base_model_name_or_path it records."""

    source: str | None = field(
        default=None,
        metadata={"help": "an I-LoRA adapter directory or a checkpoint folder with adapter/", "metavar": "DIR"},
    )
    out: str | None = field(default=None, metadata={"help": "the PEFT adapter directory to write", "metavar": "DIR"})
    base: str | None = field(
        default=None,
        metadata={
            "help": "base_model_name_or_path to record (default: a checkpoint folder's base model, as an absolute "
            "path)",
            "metavar": "DIR",
        },
    )
