"""The one module that knows the distributed engine (torch.distributed: DDP, FSDP2; DeepSpeed).

Launch with ``torchrun --nproc_per_node=N -m crabplus train ...``; a plain ``crabplus train`` is
a world of one and wraps nothing, so the same loop serves one process and many. CPU runs use the
gloo backend, CUDA runs NCCL with one device per process.

FSDP: the classic ``FullyShardedDataParallel`` refuses CPU-only machines in torch 2.13 ("FSDP needs
a non-CPU accelerator device"); the per-parameter ``fully_shard`` (FSDP2) runs on CPU with gloo,
so that is the one used — each transformer block is a shard unit, then the root. With
``reshard_after_forward=False`` parameters stay whole between forward and backward and only
gradients and optimizer state are sharded: ZeRO-2's layout.

DeepSpeed (GPU only, an optional install, ``train.distributed=deepspeed``): ``deepspeed.initialize``
with the JSON of ``train.deepspeed_config`` (its ``"auto"`` values are filled from the run config).
DeepSpeed then owns accumulation boundaries, clipping and the optimizer step. Its ZeRO optimizer
state lives in DeepSpeed's own (pickle) checkpoint format, which we do not write: checkpoints of a
DeepSpeed run hold the trained weights, scheduler, sampler and random state, and a resume restarts
the AdamW moments (said loudly when it happens). It is not exercised here (no GPU, no DeepSpeed).

State dicts go through ``torch.distributed.checkpoint.state_dict``, which gives full, FQN-keyed
model and optimizer states for a plain, DDP or FSDP2 model alike: checkpoints do not depend on
the engine or the world size they were written with.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)


@dataclass
class Engine:
    """Process-group state and the wrapping of one model; build with :func:`setup_engine`."""

    kind: str  # "none" | "ddp" | "fsdp" | "deepspeed"
    rank: int
    world_size: int
    device: torch.device
    owns_group: bool = False
    model: nn.Module | None = field(default=None, repr=False)
    reshard_after_forward: bool = True  # FSDP; False = ZeRO-2 layout

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- wrapping ------------------------------------------------------------------------------

    def wrap(self, model: nn.Module, *, find_unused_parameters: bool = False) -> nn.Module:
        """Move ``model`` to this process's device and wrap it for the engine."""
        model.to(self.device)
        if self.kind == "ddp":
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused_parameters)
        elif self.kind == "fsdp":
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard

            mesh = init_device_mesh(self.device.type, (self.world_size,))
            block_names = set(getattr(model, "_no_split_modules", None) or [])
            # Innermost first: FSDP2 units nest bottom-up (a block, then the encoder holding it).
            for module in reversed(list(model.modules())):
                if module is not model and type(module).__name__ in block_names:
                    fully_shard(module, mesh=mesh, reshard_after_forward=self.reshard_after_forward)
            fully_shard(model, mesh=mesh, reshard_after_forward=self.reshard_after_forward)
            self.model = model
        else:
            self.model = model
        return self.model

    def prepare(self, model: nn.Module, make_optimizer, train_cfg) -> tuple[nn.Module, torch.optim.Optimizer]:
        """Wrap ``model`` and build its optimizer (``make_optimizer(model)``) in the order the engine
        needs: after wrapping for DDP/FSDP (FSDP2 replaces parameters by shards), before for DeepSpeed."""
        if self.kind != "deepspeed":
            wrapped = self.wrap(model, find_unused_parameters=train_cfg.stage == "base")
            return wrapped, make_optimizer(wrapped)
        import deepspeed

        model.to(self.device)
        optimizer = make_optimizer(model)
        config = deepspeed_config(train_cfg, self.world_size)
        self.model, optimizer, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, config=config)
        return self.model, optimizer

    def unwrap(self, model: nn.Module | None = None) -> nn.Module:
        model = model if model is not None else self.model
        return model.module if self.kind in ("ddp", "deepspeed") else model

    # -- one optimizer step --------------------------------------------------------------------

    def backward(self, model: nn.Module, loss: torch.Tensor, grad_accum: int) -> None:
        """Backward of one micro-batch's loss (already normalised over the whole step)."""
        if self.kind == "deepspeed":
            model.backward(loss * grad_accum)  # DeepSpeed divides by its accumulation steps again
            model.step()  # a no-op except at the accumulation boundary, where it clips and steps
        else:
            loss.backward()

    def optimizer_step(self, model: nn.Module, optimizer, params: list[nn.Parameter], max_norm: float) -> float:
        """Clip and step (DeepSpeed did both in :meth:`backward`); return the gradient norm before clipping."""
        if self.kind == "deepspeed":
            norm = model.get_global_grad_norm()
            return float(norm) if norm is not None else float("nan")
        norm = self.clip_grad_norm(params, max_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return norm

    @contextlib.contextmanager
    def accumulate(self, model: nn.Module, sync: bool):
        """Gradient accumulation: skip the gradient all-reduce on all but the last micro-batch."""
        if self.kind == "ddp" and not sync:
            with model.no_sync():
                yield
        elif self.kind == "fsdp":
            model.set_requires_gradient_sync(sync)
            yield
        else:
            yield

    def clip_grad_norm(self, params: list[torch.nn.Parameter], max_norm: float) -> float:
        """Clip the global gradient norm (across shards for FSDP); return the norm before clipping."""
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm > 0 else float("inf"))
        if hasattr(norm, "full_tensor"):  # FSDP2: a DTensor
            norm = norm.full_tensor()
        return float(norm)

    # -- collectives ---------------------------------------------------------------------------

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (in place on a copy on this device); identity for a world of one."""
        if self.world_size == 1:
            return tensor
        out = tensor.detach().to(self.device).clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    def all_gather_object(self, obj: Any) -> list[Any]:
        if self.world_size == 1:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    # -- state ---------------------------------------------------------------------------------

    _FULL = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)

    def trainable_state(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """Full (gathered) trainable parameters by FQN; collective under FSDP (call on all ranks)."""
        if self.kind == "deepspeed":  # ZeRO-2 keeps whole parameters on every rank
            return {n: p.detach().cpu().clone() for n, p in _named_trainable(model)}
        return get_model_state_dict(model, options=self._FULL)

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
        """The full optimizer state by parameter FQN; None under DeepSpeed (see the module notes)."""
        if self.kind == "deepspeed":
            return None
        return get_optimizer_state_dict(model, optimizer, options=self._FULL)

    def load_trainable_state(self, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
        """Load what :meth:`trainable_state` saved; the key sets must match exactly."""
        expected = {n for n, _ in _named_trainable(model)}
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise ValueError(
                f"checkpoint trainable parameters do not match the model: missing {missing[:5]} "
                f"({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)})"
            )
        if self.kind == "deepspeed":
            self.unwrap(model).load_state_dict(state, strict=False)
            return
        set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True, strict=False))

    def load_optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
        # strict=False: a parameter that never received a gradient (an encoder a text-only batch
        # skipped) has no AdamW state yet, in the checkpoint as in the live run.
        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True, strict=False))

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def _named_trainable(model: nn.Module):
    inner = model.module if hasattr(model, "module") else model
    return [(n, p) for n, p in inner.named_parameters() if p.requires_grad]


def deepspeed_config(train_cfg, world_size: int) -> dict[str, Any]:
    """``train.deepspeed_config`` read, with its ``"auto"`` values taken from the run configuration."""
    from crabplus.utils.io import read_json

    config = read_json(
        train_cfg.deepspeed_config, ValueError, f"train.deepspeed_config {train_cfg.deepspeed_config}: no such file"
    )
    auto = {
        "train_micro_batch_size_per_gpu": train_cfg.batch_size,
        "gradient_accumulation_steps": train_cfg.grad_accum,
        "train_batch_size": train_cfg.batch_size * train_cfg.grad_accum * world_size,
        "gradient_clipping": train_cfg.max_grad_norm,
    }
    for key, value in auto.items():
        if config.get(key, "auto") == "auto":
            config[key] = value
    if isinstance(config.get("bf16"), dict) and config["bf16"].get("enabled") == "auto":
        config["bf16"]["enabled"] = bool(train_cfg.bf16)
    return config


def setup_engine(kind: str = "ddp", *, reshard_after_forward: bool = True) -> Engine:
    """Join the process group that ``torchrun`` describes (``WORLD_SIZE`` > 1), or run alone.

    ``kind`` is ``train.distributed`` (``ddp``, ``fsdp`` or ``deepspeed``); alone, DDP and FSDP are
    pointless and nothing is wrapped, while DeepSpeed still runs (ZeRO on one GPU).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if kind not in ("ddp", "fsdp", "deepspeed"):
        raise ValueError(f"train.distributed: expected 'ddp', 'fsdp' or 'deepspeed', got {kind!r}")
    if kind == "deepspeed":
        if device.type != "cuda":
            raise ValueError("train.distributed 'deepspeed' needs CUDA GPUs; on CPU use 'ddp' or 'fsdp'")
        try:
            import deepspeed
        except ImportError:
            raise ValueError(
                "train.distributed 'deepspeed' needs DeepSpeed: pip install deepspeed (the release used 0.16.4)"
            ) from None
        owns = not dist.is_initialized()
        deepspeed.init_distributed(dist_backend="nccl")
        return Engine(kind, dist.get_rank(), dist.get_world_size(), device, owns_group=owns)
    if world_size == 1:
        return Engine("none", 0, 1, device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    return Engine(
        kind,
        dist.get_rank(),
        dist.get_world_size(),
        device,
        owns_group=owns,
        reshard_after_forward=reshard_after_forward,
    )
