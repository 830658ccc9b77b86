"""The base's stage 0 on AVSynth: the tiny model's towers trained on the perception corpus's ground truth.

Composes :mod:`crabplus.train.encoders` (the generic trainer) with :mod:`crabplus.synth.encoder_targets` (what
AVSynth knows of each clip): one sample per corpus clip (its records share the media), the towers of a random
tiny model trained (the unified thinker's, or a modular model's vision and audio encoders), and the whole model
saved as a loadable one (its LLM, and a modular model's projectors, still at random init) that the alignment
stage starts from (a modular base takes only its towers: :func:`crabplus.experiments.base.starting_model`).
Follows the stages' reuse rule (``crabplus.utils.stamps``).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from crabplus.config.core import ConfigError
from crabplus.data.processor import CrabProcessor
from crabplus.model.config import ModelConfig
from crabplus.schema.records import Record, load_records
from crabplus.synth.encoder_targets import OPTIONAL_TARGETS, TARGETS, record_targets
from crabplus.train.encoders import EncoderStageConfig, TowerSample, train_towers
from crabplus.utils import stamps
from crabplus.utils.dist import print0
from crabplus.utils.io import atomic_write_json
from crabplus.utils.progress import progress_bar

ENCODERS_DIR = "encoders"


def clip_records(corpus: Path) -> list[Record]:
    """One record per corpus clip (the first question of each), in file order."""
    out, seen = [], set()
    for path in sorted(corpus.glob("*/train.jsonl")):
        for record in load_records(path):
            clip = record.id.rsplit("-q", 1)[0]
            if clip not in seen:
                seen.add(clip)
                out.append(record)
    return out


def tower_samples(records: list[Record], corpus: Path, processor: CrabProcessor) -> list[TowerSample]:
    """Encode each clip's media as the LLM stage will (same processor, same cache) with its targets."""
    samples = []
    with progress_bar("encode clips", total=len(records)) as bar:
        for record in records:
            targets = record_targets(record.dataset, record.meta)
            if targets is not None:
                enc = processor.encode(record, corpus, with_target=False)
                vision = {
                    k: enc[k]
                    for k in ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")
                    if k in enc
                }
                audio = {k: enc[k] for k in ("input_features", "feature_attention_mask")}
                samples.append(
                    TowerSample(record.dataset, vision, audio, targets, seconds=int(record.meta.get("duration", 0)))
                )
            if bar is not None:
                bar.update(1)
    return samples


def stage_targets(cfg: EncoderStageConfig) -> dict[str, tuple[str, str, str, int]]:
    """AVSynth's default targets plus the optional ones ``cfg.extra_targets`` names."""
    unknown = sorted(set(cfg.extra_targets) - set(OPTIONAL_TARGETS))
    if unknown:
        raise ConfigError(
            f"encoders.extra_targets: unknown {unknown}; the optional targets are {sorted(OPTIONAL_TARGETS)}"
        )
    return {**TARGETS, **{name: OPTIONAL_TARGETS[name] for name in cfg.extra_targets}}


def pretrain_encoders(
    corpus: Path,
    out: Path,
    model_cfg: ModelConfig,
    cfg: EncoderStageConfig,
    *,
    seed: int,
    image_size: int,
    cache_dir: str | None,
) -> Path:
    """Stage 0 into ``out/encoders`` (reused when stamped for the same settings and corpus); returns the folder
    of the saved model (trained towers, the rest at its seeded random init)."""
    from crabplus.config.core import to_dict
    from crabplus.model import save_checkpoint
    from crabplus.train.recipe import build_model

    folder = out / ENCODERS_DIR
    targets = stage_targets(cfg)
    settings = to_dict(cfg)
    if not cfg.extra_targets:  # the key of towers made before the option existed, so they are still reused
        settings.pop("extra_targets")
    wanted = {
        "stage": "encoders",
        "cfg": settings,
        "model": to_dict(model_cfg),
        "seed": seed,
        "image_size": image_size,
    }

    def make() -> None:
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        tokenizer, thinker = build_model(model_cfg)
        processor = CrabProcessor(tokenizer, thinker.config, image_size=image_size, cache_dir=cache_dir)
        samples = tower_samples(clip_records(corpus), corpus, processor)
        print0(f"[encoders] {len(samples)} clips; training the towers {cfg.steps} steps x {cfg.batch_size}")
        result = train_towers(thinker, samples, targets, cfg, seed=seed)
        save_checkpoint(folder, thinker, tokenizer, model_cfg)
        print0("[encoders] held-out: " + ", ".join(f"{k} {v:.2f}" for k, v in result.validation.items()))
        atomic_write_json(
            folder / "encoders.json",
            {
                "history": result.history,
                "validation": result.validation,
                "clips": len(samples),
                "train_s": result.elapsed_s,
                "total_s": round(time.perf_counter() - t0, 1),
            },
        )

    if stamps.run_once(folder, wanted, {"corpus": stamps.input_digest(corpus)}, make):
        print0(f"[base] reusing the pretrained towers in {folder}")
    return folder
