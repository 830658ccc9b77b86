"""What the demo and the transfer study share: a :class:`DemoConfig` turned into the stages' arguments.

Both build their training runs with :func:`run_config` and score a trained model with
:func:`predict_and_evaluate` (the predict stage, then the evaluate stage). They live here, not in ``demo.py``,
so that the study imports them without importing the demo that runs it (no file cycle).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crabplus.experiments import stages
from crabplus.experiments.config import DemoConfig
from crabplus.schema.report import Report
from crabplus.train.run_config import RunConfig


def cache_dir(cfg: DemoConfig) -> str:
    """Where decoded media and features are cached (shared by every stage of the run)."""
    return cfg.data.cache_dir or str(Path(cfg.output_dir) / "cache")


def run_config(
    cfg: DemoConfig,
    out: Path,
    name: str,
    data_dir: Path,
    *,
    train,
    model,
    datasets=None,
    records_dir: Path | None = None,
) -> RunConfig:
    """One stage's run: the training records of ``records_dir`` (default: the AVSynth folder itself; the study's
    sweep passes its carved training split), media from ``data_dir``."""
    data = replace(
        cfg.data,
        train=stages.record_files(records_dir or data_dir, "train", datasets),
        root=str(data_dir),
        cache_dir=cache_dir(cfg),
    )
    return RunConfig(name=name, output_dir=str(out / name), seed=cfg.seed, data=data, model=model, train=train)


def predict_and_evaluate(
    cfg: DemoConfig,
    checkpoint: Path,
    data_dir: Path,
    out_dir: Path,
    datasets=None,
    *,
    split: str = "test",
    records_dir: Path | None = None,
) -> Report:
    """Predict on ``split`` (test; the study's sweep: ``val`` from ``records_dir``) with ``cfg.eval``'s decoding
    settings and score it; ``out_dir`` gets predictions.jsonl and the report, each reused while its inputs are
    unchanged."""
    paths = stages.record_files(records_dir or data_dir, split, datasets)
    predictions = stages.predict(
        checkpoint,
        paths,
        data_dir,
        out_dir,
        limit=cfg.max_eval_per_dataset,
        batch_size=cfg.eval.batch_size,
        max_new_tokens=cfg.eval.max_new_tokens,
        image_size=cfg.data.image_size,
        cache_dir=cache_dir(cfg),
    )
    return stages.evaluate(paths, predictions, data_dir, out_dir, limit=cfg.max_eval_per_dataset, config=cfg.eval)
