"""The training loop: step, log, checkpoint, resume — the same code for one process and many.

Each optimizer step takes the sampler's global batch for that step, this rank's micro-batches of
it (:func:`crabplus.train.sampler.shard`), and accumulates gradients of the answer-span loss
normalised by the step's supervised-token count over all ranks and micro-batches. The engine
(:mod:`crabplus.train.engine`) is the only part that knows whether this is DDP, FSDP or alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset

from crabplus.train import checkpoint as ckpt
from crabplus.train.config import TrainConfig
from crabplus.train.engine import Engine
from crabplus.train.loss import logits_only_at, predicting_positions, selected_token_losses, supervised_tokens
from crabplus.train.metrics import MetricsLog, TaskLossMeter, routing_means
from crabplus.train.sampler import SamplerError, TaskBalancedSampler, shard
from crabplus.train.state import (
    StateError,
    flatten,
    load_state,
    rng_state,
    save_state,
    set_rng_state,
    unflatten,
)
from crabplus.utils.errors import describe
from crabplus.utils.io import read_safetensors
from crabplus.utils.progress import progress_bar, progress_enabled

log = logging.getLogger(__name__)


@dataclass
class LoopParts:
    """What the loop drives, built by :mod:`crabplus.train.recipe` (or a test)."""

    model: nn.Module  # wrapped by the engine
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    params: list[nn.Parameter]
    sampler: TaskBalancedSampler
    dataset: Dataset  # item: a processed sample dict with a "dataset" name
    collate: Callable[[list[dict]], dict]
    #: ``export(folder, trainable_state)`` writes the loadable model into a checkpoint folder; called on
    #: every rank (gathers may be collective), the main rank writes.
    export: Callable[[Path, dict], None] | None = None
    #: per-batch hook before forward (e.g. task ids of a task-conditioned router).
    before_forward: Callable[[dict], None] | None = None
    #: extra loss after forward (I-LoRA load balancing); returns a 0-dim tensor.
    aux_loss: Callable[[], torch.Tensor] | None = None
    #: makes a context manager recording router weights, with ``.summary(attention_mask)``.
    routing_recorder: Callable[[], Any] | None = None
    extra_state: dict[str, Any] = field(default_factory=dict)  # written into train_state.json


@dataclass
class LoopResult:
    steps_done: int
    start_step: int
    losses: list[float]  # the global loss of every step this call ran
    last_row: dict[str, Any] | None
    checkpoints: list[Path]
    elapsed_s: float
    skipped: dict[str, str] = field(default_factory=dict)  # record id -> why its media was unreadable


class _RankBatches:
    """The DataLoader's batch sampler: this rank's micro-batches for steps [start, stop)."""

    def __init__(self, sampler: TaskBalancedSampler, start: int, stop: int, engine: Engine, accum: int):
        self.sampler, self.start, self.stop, self.engine, self.accum = sampler, start, stop, engine, accum

    def __iter__(self) -> Iterator[list[int]]:
        for step, indices, _ in self.sampler.batches_from(self.start):
            if step >= self.stop:
                return
            yield from shard(
                indices, rank=self.engine.rank, world_size=self.engine.world_size, micro_batches=self.accum
            )

    def __len__(self) -> int:
        return (self.stop - self.start) * self.accum


_TENSOR_SKIP = ("labels",)


def _worker_threads(_: int) -> None:
    """A data worker decodes media; one torch thread each, so that workers and the training process
    do not oversubscribe the cores (two threads per worker made a step 5x slower on 2 cores)."""
    torch.set_num_threads(1)


def _model_inputs(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """The tensors the model's forward takes (metadata lists and labels left out)."""
    return {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor) and k not in _TENSOR_SKIP}


def _autocast(cfg: TrainConfig, device: torch.device):
    if cfg.bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resume_from(path: Path, parts: LoopParts, engine: Engine) -> int:
    """Load a checkpoint into the live model/optimizer/scheduler/RNG; return the next step.

    A damaged or unfitting file is a :class:`~crabplus.train.checkpoint.CheckpointError` naming the
    checkpoint (a sampler of other data stays a SamplerError: no older checkpoint can fix that).
    """
    state = ckpt.read_state(path)
    try:
        start = parts.sampler.check_state(state["sampler"])
        engine.load_trainable_state(parts.model, read_safetensors(path / "trainable.safetensors", StateError))
        if (path / "optimizer.safetensors").is_file():
            engine.load_optimizer_state(parts.model, parts.optimizer, load_state(path, "optimizer"))
        elif engine.is_main:
            log.warning("%s holds no optimizer state (a DeepSpeed run); the AdamW moments restart from zero", path)
        parts.scheduler.load_state_dict(unflatten({}, state["scheduler"]))
        rng_name = f"rng-rank{engine.rank}"
        if (path / f"{rng_name}.safetensors").is_file():
            set_rng_state(load_state(path, rng_name))
        elif engine.is_main:
            log.warning(
                "%s has no random state for rank %d (other world size); dropout masks after the resume "
                "will differ from an uninterrupted run",
                path,
                engine.rank,
            )
    except SamplerError:
        raise
    except StateError as exc:
        raise ckpt.CheckpointError(f"checkpoint {path}: {exc}") from exc
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise ckpt.CheckpointError(
            f"checkpoint {path} does not fit this run (was the model or adapter changed?): {describe(exc)}"
        ) from exc
    return start


def resume_latest(out: Path, parts: LoopParts, engine: Engine) -> tuple[int, Path | None]:
    """Resume from the newest checkpoint of ``out`` that loads; a damaged newer one is reported and
    passed over. Returns (next step, checkpoint used) — (0, None) when there is none at all; when
    every one fails, the newest one's error is raised."""
    found = ckpt.list_checkpoints(out)
    errors: list[ckpt.CheckpointError] = []
    for _, path in reversed(found):
        try:
            return resume_from(path, parts, engine), path
        except ckpt.CheckpointError as exc:
            errors.append(exc)
            if engine.is_main:
                log.warning("resume: passing over %s: %s", path.name, exc)
    if errors:
        raise ckpt.CheckpointError(
            f"{out}: none of its {len(found)} checkpoint(s) can be resumed; newest: "
            f"{errors[0]} (start again with --overwrite)"
        )
    return 0, None


def save_checkpoint(out: Path, step: int, parts: LoopParts, engine: Engine, cfg: TrainConfig) -> Path:
    """Write ``checkpoint-<step>`` atomically; every rank must call it (collectives inside)."""
    trainable = engine.trainable_state(parts.model)  # collective under FSDP
    optim_state = engine.optimizer_state(parts.model, parts.optimizer)
    tmp = ckpt.begin(out, step) if engine.is_main else ckpt.temp_dir(out, step)
    engine.barrier()
    save_state(tmp, f"rng-rank{engine.rank}", rng_state())
    if parts.export is not None:
        parts.export(tmp, trainable)
    engine.barrier()
    final = ckpt.checkpoint_dir(out, step)
    if engine.is_main:
        save_file(trainable, str(tmp / "trainable.safetensors"))
        if optim_state is not None:
            save_state(tmp, "optimizer", optim_state)
        tensors, sched = flatten(parts.scheduler.state_dict())
        if tensors:
            raise StateError(f"the LR scheduler's state holds tensors {sorted(tensors)}; expected plain data")
        state = {
            "step": step,
            "world_size": engine.world_size,
            "sampler": parts.sampler.state_dict(step),
            "scheduler": sched,
            **parts.extra_state,
        }
        final = ckpt.commit(out, step, state, keep=cfg.save_total_limit)
    engine.barrier()
    return final


def run_loop(
    parts: LoopParts,
    engine: Engine,
    cfg: TrainConfig,
    out: Path,
    *,
    max_steps: int,
    start_step: int = 0,
    stop_after_step: int | None = None,
    seed: int = 0,
) -> LoopResult:
    """Train steps ``start_step .. max_steps-1`` (or stop once step ``stop_after_step`` is done,
    as if killed — tests and demos use it); log to ``out/metrics.jsonl``; checkpoint every
    ``save_steps`` and at the end."""
    model = parts.model
    model.train()
    stop = max_steps if stop_after_step is None else min(max_steps, stop_after_step)
    loader = DataLoader(
        parts.dataset,
        batch_sampler=_RankBatches(parts.sampler, start_step, stop, engine, cfg.grad_accum),
        collate_fn=parts.collate,
        num_workers=cfg.num_workers,
        # A private generator: worker seeding must not draw from the global RNG (dropout), or a
        # resumed run's random stream would differ from an uninterrupted one.
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=_worker_threads if cfg.num_workers else None,
    )
    log = MetricsLog(out / "metrics.jsonl", enabled=engine.is_main, resume_step=start_step if start_step else None)
    window = TaskLossMeter(parts.sampler.names)
    step_meter = TaskLossMeter(parts.sampler.names)
    losses: list[float] = []
    saved: list[Path] = []
    skipped: dict[str, str] = {}
    last_row = None
    t0 = time.perf_counter()
    data_wait = 0.0
    echo = engine.is_main and _echo_enabled()
    batches = iter(loader)
    with progress_bar("train", total=stop - start_step) as bar:
        for step in range(start_step, stop):
            t_data = time.perf_counter()
            micro = [next(batches) for _ in range(cfg.grad_accum)]
            data_wait += time.perf_counter() - t_data  # time the step waited for its samples
            for mb in micro:  # data.skip_bad: samples replaced because their media was unreadable
                skipped.update({rid: kind for rid, kind, _ in mb.get("skipped", [])})
            local = torch.tensor([float(sum(supervised_tokens(mb["labels"]) for mb in micro))])
            n_tokens = max(float(engine.all_reduce_sum(local).item()), 1.0)
            log_now = (step + 1) % cfg.log_steps == 0 or step + 1 == stop
            routing: dict[str, list[float]] = {}
            aux_total = 0.0
            for m, batch in enumerate(micro):
                sync = m == len(micro) - 1
                record = parts.routing_recorder is not None and log_now and m == 0
                recorder = parts.routing_recorder() if record else contextlib.nullcontext()
                with engine.accumulate(model, sync), recorder as rec:
                    if parts.before_forward is not None:
                        parts.before_forward(batch)
                    inputs = _model_inputs(batch, engine.device)
                    labels = batch["labels"].to(engine.device)
                    keep = predicting_positions(labels)  # (B, T): where the loss reads logits
                    with _autocast(cfg, engine.device), logits_only_at(model, keep):
                        logits = model(**inputs).logits  # (N, V): the kept positions only
                    loss_sum, count = selected_token_losses(logits, labels, keep)  # (B,), (B,)
                    # Token mean over the whole step; × world size because DDP/FSDP average gradients.
                    loss = loss_sum.sum() * engine.world_size / n_tokens
                    if parts.aux_loss is not None:
                        aux = parts.aux_loss() / cfg.grad_accum
                        loss = loss + aux
                        aux_total += float(aux.detach())
                    engine.backward(model, loss, cfg.grad_accum)
                if record:
                    routing = routing_means(rec.summary(batch["attention_mask"]), batch["dataset"])
                step_meter.add(batch["dataset"], loss_sum, count)
                window.add(batch["dataset"], loss_sum, count)
            lr = parts.scheduler.get_last_lr()[0]
            grad_norm = engine.optimizer_step(model, parts.optimizer, parts.params, cfg.max_grad_norm)
            parts.scheduler.step()
            step_loss = step_meter.reduce(engine)["loss"]
            step_meter.reset()
            losses.append(step_loss)
            if log_now:
                row = {
                    "step": step + 1,
                    **window.reduce(engine),
                    "lr": lr,
                    "grad_norm": grad_norm,
                    "elapsed_s": round(time.perf_counter() - t0, 3),
                    "data_wait_s": round(data_wait, 3),
                }
                if parts.aux_loss is not None:
                    row["aux_loss"] = float(engine.all_reduce_sum(torch.tensor([aux_total])).item()) / engine.world_size
                if routing:
                    row["routing"] = _gather_routing(routing, engine)
                window.reset()
                log.write(row)
                last_row = row
                if echo:
                    print(_log_line(row, stop), flush=True)
            bar.update(1, info=f"loss {step_loss:.4f}")
            if (step + 1) % cfg.save_steps == 0 or step + 1 == max_steps:
                saved.append(save_checkpoint(out, step + 1, parts, engine, cfg))
    all_skipped = {k: v for part in engine.all_gather_object(skipped) for k, v in part.items()}
    return LoopResult(stop, start_step, losses, last_row, saved, time.perf_counter() - t0, all_skipped)


def _echo_enabled() -> bool:
    """Log lines on the terminal when there is no live bar (a log file, a pipe), unless asked for quiet."""
    quiet = os.environ.get("CRABPLUS_QUIET", "") not in ("", "0") or os.environ.get("CI", "").lower() in (
        "1",
        "true",
        "yes",
    )
    return not quiet and not progress_enabled()


def _log_line(row: dict[str, Any], stop: int) -> str:
    tasks = " ".join(f"{d} {v:.3f}" for d, v in sorted(row["loss_per_task"].items()))
    return f"step {row['step']}/{stop} loss {row['loss']:.4f} lr {row['lr']:.2e} grad {row['grad_norm']:.2f} | {tasks}"


def _gather_routing(routing: dict[str, list[float]], engine: Engine) -> dict[str, list[float]]:
    """Average each dataset's mean router weights over the ranks that saw it."""
    merged: dict[str, list[list[float]]] = {}
    for part in engine.all_gather_object(routing):
        for name, weights in part.items():
            merged.setdefault(name, []).append(weights)
    return {d: torch.tensor(v).mean(dim=0).tolist() for d, v in sorted(merged.items())}
