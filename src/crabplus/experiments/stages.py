"""The pipeline's stages: synthesize, train, predict, evaluate (and the study's validation split).

Each stage is a plain function from its resolved configuration and its inputs to one output (a folder or a
file), and each follows the one reuse rule of :mod:`crabplus.utils.stamps`: the output is reused only when the
stamp beside it was written for the same configuration and the same input fingerprints, and the output still
holds what the stage wrote; otherwise the stage runs again. The demo and the transfer study compose these
functions and nothing else decides whether work is redone.

Inputs are fingerprinted by content (an AVSynth set or a trained model through the stamp of the stage that
made it, record files and the shipped base by their bytes), never by file times. A training stage that was
begun for the same key and interrupted resumes from its last checkpoint; one begun for another key (or with
no readable stamp) starts afresh, its old checkpoints removed.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

from crabplus.config.core import to_dict
from crabplus.evaluate.config import EvalConfig
from crabplus.schema.report import Report
from crabplus.synth.config import SynthConfig
from crabplus.train.run_config import RunConfig
from crabplus.utils import stamps
from crabplus.utils.dist import print0
from crabplus.utils.io import read_json


def record_files(data_dir: Path, split: str, datasets: list[str] | None = None) -> list[str]:
    """The record files of ``split`` in an AVSynth folder (one per dataset), optionally some datasets."""
    files = sorted(Path(data_dir).glob(f"*/{split}.jsonl"))
    if datasets is not None:
        files = [f for f in files if f.parent.name in datasets]
    return [str(f) for f in files]


def _digests(paths: list[str]) -> dict[str, str]:
    return {str(p): stamps.input_digest(p) for p in paths}


def synthesize(cfg: SynthConfig, data_dir: Path) -> Path:
    """The AVSynth set of ``cfg`` in ``data_dir``, generated unless a stamped identical one is there (same
    settings and generator version; ``workers`` never changes the bytes, so it is not part of the key)."""
    from crabplus.synth import GENERATOR_VERSION, generate

    config = {**{k: v for k, v in to_dict(cfg).items() if k != "workers"}, "generator_version": GENERATOR_VERSION}
    t0 = time.perf_counter()

    def make() -> None:
        generate(data_dir, cfg)

    if stamps.run_once(data_dir, config, {}, make):
        print0(f"[demo] reusing AVSynth set in {data_dir}")
    else:
        print0(f"[demo] AVSynth set written to {data_dir} in {time.perf_counter() - t0:.1f} s")
    return data_dir


def carve_validation(data_dir: Path, splits: Path, n_val: int) -> Path:
    """``splits/<dataset>/{train,val}.jsonl``: each dataset's last ``n_val`` training records of ``data_dir``
    become its validation split (its clips are balanced over classes by index, so the tail is too); media stay
    in ``data_dir``."""
    from crabplus.schema.records import load_records, write_records

    sources = record_files(data_dir, "train")

    def carve() -> None:
        shutil.rmtree(splits, ignore_errors=True)  # no dataset of an earlier carving may linger
        for path in map(Path, sources):
            records = load_records(path)
            if len(records) <= n_val:
                raise ValueError(f"{path}: {len(records)} training records, cannot hold out {n_val} for validation")
            name = path.parent.name
            write_records(splits / name / "train.jsonl", records[:-n_val])
            write_records(splits / name / "val.jsonl", [replace(r, split="val") for r in records[-n_val:]])

    stamps.run_once(splits, {"val_per_dataset": n_val}, {"records": _digests(sources)}, carve)
    return splits


def train_inputs(run_cfg: RunConfig) -> dict:
    """The fingerprints a training stage depends on besides its configuration: its record files, the media
    under its data root and the model it starts from — its checkpoint, or, for a modular model built from
    ``model.modular``'s parts, those parts' folders (their paths alone would keep a stage whose frozen LLM was
    rewritten in place, as the modular base's ``parts/`` is when ``llm_from`` changes)."""
    data = run_cfg.data
    inputs = {"records": _digests([str(p) for p in data.train])}
    if data.root is not None:
        inputs["media"] = stamps.input_digest(data.root)
    model = run_cfg.model
    if model.checkpoint is not None:
        from crabplus.model.config import checkpoint_path

        inputs["checkpoint"] = stamps.input_digest(checkpoint_path(model.checkpoint))
    elif model.names_parts:
        inputs["parts"] = {k: stamps.input_digest(v) for k, v in model.modular.parts.items() if v}
    return inputs


def train(run_cfg: RunConfig) -> Path:
    """Train one stage into ``output_dir`` and return its ``final/`` model; reuse a finished one stamped for the
    same configuration and inputs, resume one begun for them, start afresh otherwise."""
    from crabplus.train import checkpoint as ckpt
    from crabplus.train import train as run_training
    from crabplus.train.recipe import FINAL_DIR

    out = Path(run_cfg.output_dir)
    final = out / FINAL_DIR
    config, inputs = to_dict(run_cfg), train_inputs(run_cfg)
    key = stamps.stage_key(config, inputs)
    if stamps.reusable(final, key):
        print0(f"[stage] reusing finished stage {run_cfg.name} ({final})")
        return final
    resume = stamps.begun(final, key)
    if not resume and (final.exists() or ckpt.list_checkpoints(out)):
        print0(
            f"[stage] {run_cfg.name}: its configuration, data or starting model is not what its earlier "
            "run was made from; training anew"
        )
    stamps.begin(final, key, config, inputs)
    t0 = time.perf_counter()
    result = run_training(run_cfg, resume=resume, overwrite=not resume)
    last = result.losses[-1] if result.losses else float("nan")
    print0(f"[stage] {run_cfg.name}: {result.steps} steps in {time.perf_counter() - t0:.1f} s, last loss {last:.3f}")
    stamps.finish(final, key, config, inputs)
    return result.checkpoint


def load_capped(record_paths: list[str], limit: int | None):
    """The records of ``record_paths`` in order, the first ``limit`` of each file (all when None)."""
    from crabplus.schema.records import load_records

    records = []
    for path in record_paths:
        recs = load_records(path)
        records.extend(recs[:limit] if limit else recs)
    return records


def predict(
    checkpoint: Path,
    record_paths: list[str],
    data_dir: Path,
    out_dir: Path,
    *,
    limit: int | None,
    batch_size: int,
    max_new_tokens: int,
    image_size: int,
    cache_dir: str | None,
) -> Path:
    """``out_dir/predictions.jsonl``: the model's answer to every record (``limit`` per file); reused while the
    model, the records, the media and the decoding settings are unchanged (``cache_dir`` only saves decoding
    work, so it is not part of the key)."""
    from crabplus.infer import predict_records, write_predictions

    output = Path(out_dir) / "predictions.jsonl"
    config = {"limit": limit, "batch_size": batch_size, "max_new_tokens": max_new_tokens, "image_size": image_size}
    inputs = {
        "model": stamps.input_digest(checkpoint),
        "media": stamps.input_digest(data_dir),
        "records": _digests(record_paths),
    }

    def make() -> None:
        t0 = time.perf_counter()
        records = load_capped(record_paths, limit)
        rows = predict_records(
            checkpoint,
            records,
            data_dir,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            image_size=image_size,
            cache_dir=cache_dir,
        )
        write_predictions(output, rows)
        print0(f"[demo] predicted {len(records)} records in {time.perf_counter() - t0:.1f} s -> {output}")

    if stamps.run_once(output, config, inputs, make):
        print0(f"[demo] reusing predictions {output}")
    return output


def evaluate(
    record_paths: list[str], predictions: Path, data_dir: Path, out_dir: Path, *, limit: int | None, config: EvalConfig
) -> Report:
    """Score ``predictions`` against the records (``limit`` per file) and write the report (``report.json``,
    ``report.md``, plots) into ``out_dir``; reused while the predictions, records, media and settings are
    unchanged (then read back from ``report.json``)."""
    from crabplus.evaluate import evaluate_predictions
    from crabplus.evaluate.inputs import load_predictions

    output = Path(out_dir) / "report.json"
    settings = {"limit": limit, "eval": to_dict(config)}
    inputs = {
        "predictions": stamps.input_digest(predictions),
        "media": stamps.input_digest(data_dir),
        "records": _digests(record_paths),
    }
    made: list[Report] = []

    def make() -> list[str]:
        t0 = time.perf_counter()
        records = load_capped(record_paths, limit)
        made.append(
            evaluate_predictions(records, load_predictions(predictions), data_dir, out_dir=out_dir, config=config)
        )
        print0(
            f"[demo] scored {len(records)} records in {time.perf_counter() - t0:.1f} s -> {Path(out_dir) / 'report.md'}"
        )
        return sorted(made[0].files.values())

    if stamps.run_once(output, settings, inputs, make):
        print0(f"[demo] reusing evaluation {output}")
        return Report.from_json(read_json(output, ValueError), file=str(output))
    return made[0]
