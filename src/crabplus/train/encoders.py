"""Stage 0 of the base: the thinker's two towers pretrained on their own, with direct supervision.

A real Omni model does not learn to see and hear through its LLM: its vision tower comes from an image
model and its audio tower from Whisper, each pretrained on its own before the LLM reads them. Trained only
through the LLM's next-token loss, the tiny towers got 10-25x smaller gradients than the LLM (one AdamW
group, one global clip) and ended worse than random at perceiving. So here each tower gets small heads on
its output tokens (the merger's / the audio projection's, the very features the LLM reads), trained against
the exact ground truth the caller provides (for AVSynth: ``crabplus.synth.encoder_targets``), plus a
contrastive objective across the towers (InfoNCE between a clip's pooled vision and pooled audio, both ways)
for which track belongs to which clip. The heads are dropped afterwards; the towers go into the base.

The trainer knows nothing of the world: ``targets`` describes each head as (tower, level, loss, classes),
and each sample carries its own target values. Nor of the model's family: a :class:`TowerReader` gives each
clip's tokens — the unified thinker's as its LLM reads them (:class:`ThinkerTowers`), a modular model's as its
projectors read them (:class:`ModularTowers`: its encoders are pretrained alone, as CLIP and Whisper were).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crabplus.config.core import ConfigError
from crabplus.data.collate import pad_audio
from crabplus.model.modular.projector import grid_concat, grid_pool
from crabplus.utils.dist import print0

IGNORE = -100


@dataclass
class EncoderStageConfig:
    """``steps`` optimizer steps of ``batch_size`` clips, all of one layout per step (layouts take turns at
    random, each as often as the others: faces are an eighth of the corpus's clips but need as many steps as
    the scenes, whose targets differ); AdamW at ``learning_rate`` with cosine decay after ``warmup_steps``;
    ``contrastive_weight`` scales the cross-tower InfoNCE loss (temperature ``temperature``);
    ``val_fraction`` of the clips is held out and scored at the end; ``log_steps``: how often a line is printed;
    ``extra_targets``: the caller's optional targets to train besides its default ones, by name (the trainer
    passes the names through; for AVSynth, ``crabplus.synth.encoder_targets.OPTIONAL_TARGETS``)."""

    steps: int = 3000
    batch_size: int = 24
    learning_rate: float = 1e-3
    warmup_steps: int = 30
    weight_decay: float = 0.01
    contrastive_weight: float = 0.5
    temperature: float = 0.1
    val_fraction: float = 0.1
    log_steps: int = 50
    extra_targets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2:
            raise ConfigError(f"steps must be >= 1 and batch_size >= 2, got {self.steps}, {self.batch_size}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


@dataclass
class TowerSample:
    """One clip's encoder inputs (as :class:`~crabplus.data.processor.CrabProcessor` encodes them) and targets."""

    layout: str
    vision: dict[str, torch.Tensor]  # pixel_values(+image_grid_thw) or pixel_values_videos(+video_grid_thw)
    audio: dict[str, torch.Tensor]  # input_features [1, n_mels, F] and feature_attention_mask [1, F]
    targets: dict[str, object]
    seconds: int = 0  # the clip's length, for per-second targets


@dataclass
class EncoderStageResult:
    """``heads``: the trained heads (dropped by the base recipe; a readout of frozen towers scores with them)."""

    history: list[dict] = field(default_factory=list)
    validation: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    heads: TowerHeads | None = None


class TowerHeads(nn.Module):
    """A linear head per target and the two contrastive projections (all dropped after the stage); ``widths``:
    each tower's token width."""

    def __init__(self, widths: dict[str, int], targets: dict[str, tuple[str, str, str, int]], proj_dim: int = 64):
        super().__init__()
        self.targets = dict(targets)
        self.heads = nn.ModuleDict(
            {name: nn.Linear(widths[tower], classes) for name, (tower, _, _, classes) in targets.items()}
        )
        self.vision_proj = nn.Linear(widths["vision"], proj_dim)
        self.audio_proj = nn.Linear(widths["audio"], proj_dim)


def _audio_batch(batch: Sequence[TowerSample]) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_audio(  # [B, n_mels, max F], [B, max F]
        [s.audio["input_features"] for s in batch], [s.audio["feature_attention_mask"] for s in batch]
    )


class TowerReader:
    """What the stage needs of a model: its two towers, their token widths, and per clip the tokens the heads
    read (vision: a still's first four are its quarters in raster order; audio: in time order)."""

    towers: list[nn.Module]
    widths: dict[str, int]

    def vision(self, batch: Sequence[TowerSample]) -> list[torch.Tensor]:  # each [n_i, widths["vision"]]
        raise NotImplementedError

    def audio(self, batch: Sequence[TowerSample]) -> list[torch.Tensor]:  # each [m_i, widths["audio"]]
        raise NotImplementedError


class ThinkerTowers(TowerReader):
    """The unified thinker: the merger's / the audio projection's outputs, the very tokens its LLM reads."""

    def __init__(self, thinker: nn.Module):
        self.model = thinker.model
        self.towers = [self.model.visual, self.model.audio_tower]
        hidden = int(thinker.config.text_config.hidden_size)
        self.widths = {"vision": hidden, "audio": hidden}

    def vision(self, batch: Sequence[TowerSample]) -> list[torch.Tensor]:
        if "pixel_values" in batch[0].vision:
            pixels = torch.cat([s.vision["pixel_values"] for s in batch])
            grid = torch.cat([s.vision["image_grid_thw"] for s in batch])
            return list(self.model.get_image_features(pixels, image_grid_thw=grid).pooler_output)
        pixels = torch.cat([s.vision["pixel_values_videos"] for s in batch])
        grid = torch.cat([s.vision["video_grid_thw"] for s in batch])
        return list(self.model.get_video_features(pixels, video_grid_thw=grid).pooler_output)

    def audio(self, batch: Sequence[TowerSample]) -> list[torch.Tensor]:
        feats, mask = _audio_batch(batch)
        out = self.model.get_audio_features(feats, feature_attention_mask=mask).last_hidden_state  # [sum m_i, D]
        _, counts = self.model.audio_tower._get_feat_extract_output_lengths(mask.sum(-1))
        return list(torch.split(out, counts.tolist()))


class ModularTowers(TowerReader):
    """A modular model (:class:`~crabplus.model.modular.model.ModularAVModel`): its encoders' own outputs, before
    any projector — the patch tokens of each frame merged over a 2 x 2 grid of blocks, one token per quarter
    (the unified merger's grouping at 56 px), averaged (``grid_pool``) or, when the model's ``vision_merge`` is
    ``concat``, side by side (``grid_concat``) as its projector will read them; and the audio encoder's positions
    over real frames."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.towers = [model.visual, model.audio_tower]
        config = model.config
        self.concat = config.vision_merge == "concat"
        per_quarter = (config.vision_patch_side // 2) ** 2 if self.concat else 1
        self.widths = {
            "vision": int(config.vision_config.hidden_size) * per_quarter,
            "audio": int(model.config.audio_config.d_model),
        }

    def vision(self, batch: Sequence[TowerSample]) -> list[torch.Tensor]:
        key = "pixel_values" if "pixel_values" in batch[0].vision else "pixel_values_videos"
        frames = [s.vision[key] for s in batch]  # each [n_i, 3, S, S]
        states = self.model.frame_states(torch.cat(frames))  # [N, P, d_v]
        p = states.shape[1]
        g = math.isqrt(p)
        if g * g != p or g % 2:
            raise ValueError(f"{p} patch tokens a frame: expected an even square grid to pool to quarters")
        # [N, 4, d_v] (mean) or [N, 4, (P / 4) * d_v] (concat): the quarters, raster order
        merged = grid_concat(states, 4) if self.concat else grid_pool(states, 4)
        return [m.flatten(0, 1) for m in torch.split(merged, [f.shape[0] for f in frames])]

    def audio(self, batch: Sequence[TowerSample]) -> list[torch.Tensor]:
        feats, mask = _audio_batch(batch)
        tokens, real, counts = self.model.audio_states(feats, mask)  # [S, half, d_a], [S, half]
        out = []
        for t, r in zip(torch.split(tokens, counts), torch.split(real, counts)):
            out.append(t.flatten(0, 1)[r.flatten().bool()])  # [m_i, d_a]: positions over real frames
        return out


def tower_reader(model: nn.Module) -> TowerReader:
    """The reader of ``model``'s family."""
    from crabplus.model.modular.model import ModularAVModel

    return ModularTowers(model) if isinstance(model, ModularAVModel) else ThinkerTowers(model)


def _target_loss(logits: torch.Tensor, target, loss: str) -> tuple[torch.Tensor | None, float, int]:
    """(loss, right, counted): ``right`` counts correct predictions (bce: exact multi-hot sets)."""
    if loss == "ce":
        t = torch.as_tensor(target, dtype=torch.long).reshape(-1)
        keep = t != IGNORE
        if not keep.any():
            return None, 0.0, 0
        value = F.cross_entropy(logits[keep], t[keep])
        return value, float((logits[keep].argmax(-1) == t[keep]).sum()), int(keep.sum())
    t = torch.as_tensor(np.asarray(target), dtype=torch.float32).reshape(logits.shape)
    value = F.binary_cross_entropy_with_logits(logits, t)
    exact = ((logits > 0).float() == t).all(-1)
    return value, float(exact.sum()), int(exact.numel())


def _per_second(tokens: torch.Tensor, seconds: int) -> torch.Tensor:
    """[m, hidden] audio tokens -> [seconds, hidden]: the mean of the tokens of each second."""
    return torch.stack([chunk.mean(0) for chunk in torch.tensor_split(tokens, seconds)])


def per_group(per_second: np.ndarray, n_tokens: int) -> np.ndarray:
    """[seconds, q] targets per second and per token of a group -> [groups * q]: each temporal group takes the
    second at its middle (a clip's groups split its seconds evenly; ``n_tokens`` = groups * q)."""
    seconds, q = per_second.shape
    groups = n_tokens // q
    if groups * q != n_tokens:
        raise ValueError(f"{n_tokens} tokens do not split into groups of {q}")
    rows = [min(seconds - 1, int((g + 0.5) * seconds / groups)) for g in range(groups)]
    return per_second[rows].reshape(-1)


def level_inputs(tokens: torch.Tensor, target: np.ndarray, level: str, seconds: int) -> tuple[torch.Tensor, np.ndarray]:
    """What a head of ``level`` reads of one clip's [n, width] tower tokens, and the target it is scored against:
    ``token`` the first len(target) tokens (a still's first temporal group: one token per quarter), ``time_token``
    every token with the per-second target taken per group (:func:`per_group`), ``second`` the tokens of each
    second averaged, ``clip`` all of them averaged."""
    if level == "token":
        return tokens[: len(target)], target
    if level == "time_token":
        return tokens, per_group(target, len(tokens))
    if level == "second":
        return _per_second(tokens, seconds), target
    return tokens.mean(0, keepdim=True), target


def batch_losses(
    reader: TowerReader, heads: TowerHeads, batch: Sequence[TowerSample], cfg: EncoderStageConfig
) -> tuple[torch.Tensor, dict[str, tuple[float, int]]]:
    """The summed loss of one single-layout batch, and per target (right, counted)."""
    vision = reader.vision(batch)
    audio = reader.audio(batch)
    losses, tally = [], {}
    for name, (tower, level, kind, _) in heads.targets.items():
        have = [i for i, s in enumerate(batch) if name in s.targets]
        if not have:
            continue
        logits, wanted = [], []
        for i in have:
            tokens = vision[i] if tower == "vision" else audio[i]
            x, target = level_inputs(tokens, np.asarray(batch[i].targets[name]), level, batch[i].seconds)
            logits.append(heads.heads[name](x))
            wanted.append(target.reshape(x.shape[0], -1) if kind == "bce" else target.reshape(-1))
        value, right, counted = _target_loss(torch.cat(logits), np.concatenate(wanted), kind)
        if value is not None:
            losses.append(value)
            tally[name] = (right, counted)
    v = F.normalize(heads.vision_proj(torch.stack([t.mean(0) for t in vision])), dim=-1)  # [B, d]
    a = F.normalize(heads.audio_proj(torch.stack([t.mean(0) for t in audio])), dim=-1)  # [B, d]
    sims = v @ a.T / cfg.temperature  # [B, B]: clip i's pictures against clip j's sound
    labels = torch.arange(len(batch))
    contrastive = (F.cross_entropy(sims, labels) + F.cross_entropy(sims.T, labels)) / 2
    tally["contrastive"] = (float((sims.argmax(-1) == labels).sum()), len(batch))
    total = torch.stack(losses).sum() + cfg.contrastive_weight * contrastive
    return total, tally


def split_layouts(
    samples: Sequence[TowerSample], val_fraction: float, rng: random.Random
) -> tuple[dict[str, list[TowerSample]], dict[str, list[TowerSample]]]:
    train: dict[str, list[TowerSample]] = {}
    val: dict[str, list[TowerSample]] = {}
    for s in samples:
        train.setdefault(s.layout, []).append(s)
    for layout, group in train.items():
        rng.shuffle(group)
        k = int(len(group) * val_fraction)
        val[layout], train[layout] = group[:k], group[k:]
    return train, val


def train_towers(
    thinker: nn.Module,
    samples: Sequence[TowerSample],
    targets: dict[str, tuple[str, str, str, int]],
    cfg: EncoderStageConfig,
    *,
    seed: int = 0,
    frozen: bool = False,
) -> EncoderStageResult:
    """Train ``thinker``'s vision and audio towers (a unified thinker or a modular model; the LLM and a modular
    model's projectors are not touched) on ``samples``; returns the loss history and the held-out accuracy per
    target. ``frozen``: train the heads alone on the towers as they are — a linear readout of what they hold."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    train, val = split_layouts(samples, cfg.val_fraction, rng)
    layouts = [k for k, v in train.items() if len(v) >= cfg.batch_size]
    if not layouts:
        raise ValueError(f"no layout has {cfg.batch_size} training clips ({ {k: len(v) for k, v in train.items()} })")
    reader = tower_reader(thinker)
    heads = TowerHeads(reader.widths, targets)
    towers = [] if frozen else reader.towers
    if frozen:
        for t in reader.towers:
            t.requires_grad_(False)
            t.eval()
    params = [p for t in towers for p in t.parameters()] + list(heads.parameters())
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        return 0.5 * (1 + math.cos(math.pi * (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    for t in towers:
        t.train()
    result, t0, running = EncoderStageResult(), time.perf_counter(), []
    for step in range(cfg.steps):
        layout = rng.choice(layouts)
        batch = rng.sample(train[layout], cfg.batch_size)
        loss, _ = batch_losses(reader, heads, batch, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        running.append(loss.item())
        if (step + 1) % cfg.log_steps == 0 or step + 1 == cfg.steps:
            row = {
                "step": step + 1,
                "loss": round(sum(running) / len(running), 4),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            running = []
            result.history.append(row)
            print0(f"[encoders] step {row['step']}/{cfg.steps} loss {row['loss']:.4f} ({row['seconds']:.0f} s)")
    result.validation = evaluate_towers(reader, heads, val, cfg)
    result.heads = heads
    result.elapsed_s = round(time.perf_counter() - t0, 1)
    for t in towers:
        t.eval()
    return result


@torch.no_grad()
def evaluate_towers(
    reader: TowerReader, heads: TowerHeads, groups: dict[str, list[TowerSample]], cfg: EncoderStageConfig
) -> dict[str, float]:
    """Held-out accuracy per target (bce targets: the exact set) and of the contrastive match (which of the
    batch's tracks belongs to each clip, among ``batch_size``)."""
    tally: dict[str, list[float]] = {}
    for group in groups.values():
        for i in range(0, len(group) - 1, cfg.batch_size):
            batch = group[i : i + cfg.batch_size]
            if len(batch) < 2:
                continue
            _, part = batch_losses(reader, heads, batch, cfg)
            for name, (right, counted) in part.items():
                acc = tally.setdefault(name, [0.0, 0])
                acc[0] += right
                acc[1] += counted
    return {name: round(right / counted, 4) for name, (right, counted) in sorted(tally.items()) if counted}
