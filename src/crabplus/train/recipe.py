"""``train(run_cfg)``: the recipe — setup, train, save, cleanup (torchtune's shape).

Stages (``train.stage``):

- ``base``: every weight of the tiny preset trains (``model.adapter`` must be ``none``). A random
  tiny backbone knows nothing; this stage makes it learn the synthetic world first, standing in for
  the pretrained Qwen2.5-Omni that the real recipe starts from.
- ``multitask``: the adapter (``model.adapter``: I-LoRA or plain LoRA) trains on every dataset of
  ``data.train`` with temperature-balanced sampling; the base (``model.checkpoint``) is frozen.
- ``single``: the same on ``train.single_dataset`` alone (the transfer study's reference runs).

Outputs in ``output_dir``: ``config.yaml`` (resolved), ``metrics.jsonl``, ``checkpoint-<step>/``
(resumable) and ``final/`` (the model to predict and evaluate with).
"""

from __future__ import annotations

import functools
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from crabplus.adapters.kinds import NO_ADAPTER, adapter_kind
from crabplus.config.core import ConfigError, save_config
from crabplus.model.config import checkpoint_path
from crabplus.model.taskids import NUM_TASK_IDS
from crabplus.schema.registry import get_spec
from crabplus.train import checkpoint as ckpt
from crabplus.train.data import build_train_data, load_sources
from crabplus.train.engine import Engine, setup_engine
from crabplus.train.loop import LoopParts, resume_latest, run_loop
from crabplus.train.run_config import RunConfig
from crabplus.train.sampler import TaskBalancedSampler
from crabplus.utils.dist import print0

FINAL_DIR = "final"
RUN_CONFIG = "run_config.yaml"


@dataclass
class TrainResult:
    """What a run produced. ``checkpoint`` is the model to load (``final/``) once the run completed."""

    output_dir: Path
    checkpoint: Path | None
    last_checkpoint: Path | None
    completed: bool
    start_step: int
    steps: int  # steps done when the call returned
    max_steps: int
    losses: list[float]  # the global loss of each step this call ran
    metrics: dict[str, Any] | None  # the last metrics row
    dataset_sizes: dict[str, int]
    sampling_weights: dict[str, float]
    skipped: dict[str, str]  # record id -> reason, for records whose media could not be read (data.skip_bad)
    elapsed_s: float


def check_run_config(run_cfg: RunConfig) -> None:
    """Cross-section rules the per-component dataclasses cannot see (checked before any work)."""
    if run_cfg.model.checkpoint is not None and not checkpoint_path(run_cfg.model.checkpoint).is_dir():
        raise ConfigError(
            f"model.checkpoint {run_cfg.model.checkpoint}: no such folder (give a local model folder: "
            "a released Qwen2.5-Omni directory or a crabplus run's final/)"
        )
    if run_cfg.train.stage == "base" and run_cfg.model.adapter != "none":
        raise ConfigError(
            f"train.stage 'base' trains the whole backbone: set model.adapter=none (got {run_cfg.model.adapter!r})"
        )
    settings = run_cfg.model.adapter_settings()
    if getattr(settings, "task_conditioned", False) and settings.num_tasks < NUM_TASK_IDS:
        raise ConfigError(
            f"model.{run_cfg.model.adapter}.num_tasks is {settings.num_tasks}; the task-conditioned "
            f"router numbers the {NUM_TASK_IDS} task types, so it must be >= {NUM_TASK_IDS}"
        )


def build_model(model_cfg, *, device: str = "cpu"):
    """(tokenizer, model with its adapter) for a training run; all ranks build the same one."""
    from crabplus.data.tokenizer import build_tiny_tokenizer, load_tokenizer
    from crabplus.model import attach_adapter, build_backbone
    from crabplus.model.family import register_family

    ckpt_dir = checkpoint_path(model_cfg.checkpoint) if model_cfg.checkpoint else None
    if ckpt_dir is not None:
        register_family(model_cfg)  # before the tokenizer: AutoTokenizer reads config.json first
        tokenizer = load_tokenizer(ckpt_dir)
    elif model_cfg.names_parts:
        from crabplus.model.modular.build import parts_tokenizer  # CLIP, Whisper, BLIP-2: only when needed

        tokenizer = parts_tokenizer(model_cfg)  # the LLM's own, with the placeholders it lacks added
    else:
        tokenizer = build_tiny_tokenizer()
    model = build_backbone(model_cfg, tokenizer, device=device)
    return tokenizer, attach_adapter(model, model_cfg)


def thinker_of(model: nn.Module) -> nn.Module:
    """The transformers thinker inside a PEFT wrapper (or the model itself)."""
    from crabplus.adapters import is_peft

    return model.get_base_model() if is_peft(model) else model


def is_tower_parameter(name: str) -> bool:
    """A parameter of the vision or audio tower, its projection into the LLM included (the vision merger, the
    audio projection): with the merger at the LLM's full rate, the alignment stage pushed the pretrained vision
    tokens towards one shared vector (their mean grew from 4.0 to 9.0 of a norm of 9.4 after RMS normalisation,
    the mood's between-class spread fell from 5.4 to 2.3) and the LLM learned to answer nothing it sees."""
    return "visual." in name or "audio_tower." in name


def freeze_towers(model: nn.Module) -> int:
    """Stop the towers' parameters training (``encoder_lr_scale: 0``); returns how many were frozen."""
    frozen = 0
    for name, p in model.named_parameters():
        if is_tower_parameter(name) and p.requires_grad:
            p.requires_grad_(False)
            frozen += p.numel()
    return frozen


def _optimizer(model: nn.Module, cfg) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (biases and norms are not decayed, the usual rule); the towers at
    ``encoder_lr_scale`` times the learning rate."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ConfigError("nothing to train: the model has no trainable parameters")
    scale = cfg.encoder_lr_scale
    groups = []
    for tower in (False, True):
        part = [(n, p) for n, p in named if (scale != 1.0 and is_tower_parameter(n)) == tower]
        lr = cfg.learning_rate * (scale if tower else 1.0)
        groups += [
            {"params": [p for _, p in part if p.ndim >= 2], "weight_decay": cfg.weight_decay, "lr": lr},
            {"params": [p for _, p in part if p.ndim < 2], "weight_decay": 0.0, "lr": lr},
        ]
    return torch.optim.AdamW(
        [g for g in groups if g["params"]],
        lr=cfg.learning_rate,
        betas=(cfg.adam_beta1, cfg.adam_beta2),
        eps=cfg.adam_eps,
    )


def _scheduler(optimizer, cfg, max_steps: int):
    from transformers import get_scheduler

    name = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}[cfg.lr_scheduler]
    warmup = math.ceil(cfg.warmup_ratio * max_steps)
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=max_steps)


def _max_steps(cfg, n_records: int, samples_per_step: int) -> int:
    if cfg.epochs is None:
        return cfg.max_steps
    return max(1, math.ceil(cfg.epochs * n_records / samples_per_step))


class _Exporter:
    """Writes the loadable model (crabplus.model.save_checkpoint) + run config into a folder.

    Called on every rank (the loop and :func:`_write_final` do); only the main rank writes. Under
    FSDP the live parameters are shards, so the main rank rebuilds a plain copy once and loads the
    gathered trainable weights into it (the frozen ones come from the same base).
    """

    def __init__(self, run_cfg: RunConfig, tokenizer, model: nn.Module, engine: Engine):
        self.run_cfg, self.tokenizer, self.model, self.engine = run_cfg, tokenizer, model, engine
        self._copy: nn.Module | None = None

    def _plain_model(self, trainable: dict[str, torch.Tensor] | None) -> nn.Module:
        if self.engine.kind != "fsdp":
            return self.engine.unwrap(self.model)
        if trainable is None:
            trainable = self.engine.trainable_state(self.model)  # collective
        if not self.engine.is_main:
            return self.model
        if self._copy is None:
            with torch.random.fork_rng():  # the copy's random init must not move the training RNG
                torch.manual_seed(self.run_cfg.seed)  # as in _train: a random base is rebuilt identical
                _, self._copy = build_model(self.run_cfg.model)
        missing = set(trainable) - set(self._copy.state_dict())
        if missing:
            raise RuntimeError(f"export copy lacks trained parameters {sorted(missing)[:5]}")
        self._copy.load_state_dict(trainable, strict=False)
        return self._copy

    def __call__(self, folder: Path, trainable: dict[str, torch.Tensor] | None = None) -> None:
        from crabplus.model import save_checkpoint

        model = self._plain_model(trainable)
        if self.engine.is_main:
            from crabplus.data.hf_files import write_processor_files
            from crabplus.data.processor import CrabProcessor

            save_checkpoint(folder, model, self.tokenizer, self.run_cfg.model)
            save_config(self.run_cfg, folder / RUN_CONFIG)
            processor = CrabProcessor(self.tokenizer, thinker_of(model).config, image_size=self.run_cfg.data.image_size)
            write_processor_files(folder, processor)  # AutoImageProcessor / AutoFeatureExtractor / AutoProcessor


def _write_final(out: Path, exporter: _Exporter, engine: Engine) -> Path:
    """``final/``: the exported model alone, built aside and swapped in whole (atomic like a checkpoint)."""
    final, tmp, old = out / FINAL_DIR, out / f".tmp-{FINAL_DIR}", out / f".old-{FINAL_DIR}"
    if engine.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    engine.barrier()
    exporter(tmp)
    if engine.is_main:
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    engine.barrier()
    return final


def train(
    run_cfg: RunConfig, *, resume: bool = False, stop_after_step: int | None = None, overwrite: bool = False
) -> TrainResult:
    """Run one training stage as configured. Without ``resume`` the run starts from step 0: checkpoints
    of an earlier run in ``output_dir`` are removed only with ``overwrite`` (else a CheckpointError says
    so, before any work); with ``resume``, from the newest complete checkpoint that loads (a damaged
    newer one is reported and passed over), or step 0 when there is none. ``stop_after_step`` ends the
    call once that (absolute) step is done, as if the run were killed there (tests, demos), leaving the
    checkpoints written so far.
    Works alone and under ``torchrun`` (DDP/FSDP over gloo or NCCL; DeepSpeed on GPUs)."""
    check_run_config(run_cfg)
    cfg = run_cfg.train
    out = Path(run_cfg.output_dir)
    if not resume and not overwrite:
        old = ckpt.list_checkpoints(out)
        if old:
            raise ckpt.CheckpointError(
                f"output_dir {out} holds {len(old)} checkpoint(s) of an earlier run (newest: {old[-1][1].name}); "
                "continue it with --resume, or discard them with --overwrite"
            )
    engine = setup_engine(cfg.distributed, reshard_after_forward=cfg.fsdp_reshard_after_forward)
    try:
        return _train(run_cfg, cfg, out, engine, resume, stop_after_step)
    finally:
        engine.close()


def _train(run_cfg, cfg, out, engine, resume, stop_after_step) -> TrainResult:
    from crabplus.data.collate import collate
    from crabplus.data.processor import CrabProcessor
    from crabplus.schema.tokens import special_token_ids

    if engine.is_main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(run_cfg, out / "config.yaml")
    sources = load_sources(run_cfg.data, cfg)
    torch.manual_seed(run_cfg.seed)  # the same initial weights on every rank (FSDP does not broadcast)
    tokenizer, model = build_model(run_cfg.model)
    thinker = thinker_of(model)
    if cfg.stage == "base" and cfg.encoder_lr_scale == 0:
        print0(f"train: the towers are frozen (encoder_lr_scale 0): {freeze_towers(model):,} parameters")
    processor = CrabProcessor(
        tokenizer, thinker.config, image_size=run_cfg.data.image_size, cache_dir=run_cfg.data.cache_dir
    )
    data = build_train_data(sources, processor, skip_bad=run_cfg.data.skip_bad)
    samples_per_step = cfg.batch_size * cfg.grad_accum * engine.world_size
    task_of = {d: get_spec(d).task for d in data.groups} if cfg.sampling_balance == "task" else None
    sampler = TaskBalancedSampler(
        data.groups,
        temperature=cfg.sampling_temperature,
        seed=run_cfg.seed,
        samples_per_step=samples_per_step,
        task_of=task_of,
    )
    max_steps = _max_steps(cfg, sum(data.sizes.values()), samples_per_step)
    weights = dict(zip(sampler.names, sampler.probs.tolist()))
    print0(
        f"train: stage {cfg.stage}, {sum(data.sizes.values())} records of {len(data.sizes)} dataset(s), "
        f"{max_steps} steps x {samples_per_step} samples, {engine.world_size} process(es) ({engine.kind})"
    )
    print0("sampling weights: " + ", ".join(f"{d} {w:.3f}" for d, w in weights.items()))

    model, optimizer = engine.prepare(model, lambda m: _optimizer(m, cfg), cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    scheduler = _scheduler(optimizer, cfg, max_steps)
    pad_id = special_token_ids(tokenizer)["pad"]
    exporter = _Exporter(run_cfg, tokenizer, model, engine)
    parts = LoopParts(
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        params=params,
        sampler=sampler,
        dataset=data.dataset,
        collate=functools.partial(collate, pad_id=pad_id, padding_side="right"),
        export=exporter,
        extra_state={"stage": cfg.stage, "max_steps": max_steps},
    )
    _adapter_hooks(parts, run_cfg, engine.unwrap(model))

    start = 0
    if resume:
        start, last = resume_latest(out, parts, engine)
        if last is None:
            print0(f"resume: no complete checkpoint in {out}; starting from step 0")
        else:
            print0(f"resume: continuing from {last} (step {start})")
    else:
        old = ckpt.list_checkpoints(out)
        if old and engine.is_main:  # a fresh run must not leave another run's checkpoints to resume from
            for _, path in old:
                shutil.rmtree(path, ignore_errors=True)
            print0(
                f"train: starting fresh in {out}: removed {len(old)} checkpoint(s) of an earlier run "
                "(--overwrite was given)"
            )
        engine.barrier()
    if start >= max_steps:
        print0(f"train: already at step {start} of {max_steps}")
    elif engine.is_main and (out / FINAL_DIR).exists():
        # final/ is only ever the end of *this* run: an older one must not pass for it if we stop early
        shutil.rmtree(out / FINAL_DIR)
    result = run_loop(
        parts,
        engine,
        cfg,
        out,
        max_steps=max_steps,
        start_step=min(start, max_steps),
        stop_after_step=stop_after_step,
        seed=run_cfg.seed,
    )
    completed = result.steps_done >= max_steps
    final = _write_final(out, exporter, engine) if completed else None
    if result.skipped:
        print0(
            f"train: skipped {len(result.skipped)} record(s) with unreadable media (data.skip_bad): "
            + ", ".join(sorted(result.skipped)[:10])
            + (" ..." if len(result.skipped) > 10 else "")
        )
    return TrainResult(
        out,
        final,
        ckpt.last_checkpoint(out),
        completed,
        start,
        result.steps_done,
        max_steps,
        result.losses,
        result.last_row,
        data.sizes,
        weights,
        result.skipped,
        result.elapsed_s,
    )


def _adapter_hooks(parts: LoopParts, run_cfg: RunConfig, inner: nn.Module) -> None:
    """Task ids, the balance loss and routing records: only with a routed adapter (I-LoRA), only when asked for."""
    model_cfg = run_cfg.model
    if model_cfg.adapter == NO_ADAPTER or not adapter_kind(model_cfg.adapter).routed:
        return
    from crabplus.adapters import RoutingRecorder, balance_loss, set_task_ids
    from crabplus.model.taskids import task_ids

    ilora = model_cfg.adapter_settings()
    if ilora.task_conditioned:
        parts.before_forward = lambda batch: set_task_ids(inner, task_ids(batch["dataset"], ilora.num_tasks))
    if ilora.balance_loss_weight > 0:
        parts.aux_loss = lambda: balance_loss(inner)
    if run_cfg.train.log_routing:
        parts.routing_recorder = lambda: RoutingRecorder(inner)
