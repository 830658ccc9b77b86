"""``crabplus demo``: the main job on the embedded default, end to end.

AVSynth set -> the shipped perception-pretrained tiny backbone (or a base stage on the perception corpus,
``retrain_base``) -> I-LoRA multi-task adapter -> predictions on every
mirror dataset's test split -> official metrics beside chance -> ``report.md`` and plots.
With ``full`` it runs the transfer study instead of the single adapter (see ``study.py``).

Stages are resumable: a stage whose folder holds a finished result made from the same resolved
configuration is reused; an interrupted training stage resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import yaml

from crabplus.config.core import save_config, to_dict
from crabplus.experiments.config import DemoConfig
from crabplus.train.run_config import RunConfig
from crabplus.utils.dist import print0
from crabplus.utils.io import atomic_write_json

DATA_DIR = "data"


def synthesize(cfg: DemoConfig, out: Path) -> Path:
    """Generate the AVSynth set once; reuse it while the synth configuration and generator version are
    unchanged."""
    from crabplus.synth import GENERATOR_VERSION, generate

    data_dir = out / DATA_DIR
    stamp = out / "synth_config.json"
    wanted = {**to_dict(cfg.synth), "generator_version": GENERATOR_VERSION}  # a new generator renders anew
    if (data_dir / "manifest.json").is_file() and stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        print0(f"[demo] reusing AVSynth set in {data_dir}")
        return data_dir
    t0 = time.perf_counter()
    generate(data_dir, cfg.synth)
    atomic_write_json(stamp, wanted)
    print0(f"[demo] AVSynth set written to {data_dir} in {time.perf_counter() - t0:.1f} s")
    return data_dir


def cache_dir(cfg: DemoConfig) -> str:
    """Where decoded media and features are cached (shared by every stage of the run)."""
    return cfg.data.cache_dir or str(Path(cfg.output_dir) / "cache")


def record_files(data_dir: Path, split: str, datasets: list[str] | None = None) -> list[str]:
    """The record files of ``split`` in an AVSynth folder (one per dataset), optionally some datasets."""
    files = sorted(data_dir.glob(f"*/{split}.jsonl"))
    if datasets is not None:
        files = [f for f in files if f.parent.name in datasets]
    return [str(f) for f in files]


def run_config(cfg: DemoConfig, out: Path, name: str, data_dir: Path, *, train, model, datasets=None,
               records_dir: Path | None = None) -> RunConfig:
    """One stage's run: the training records of ``records_dir`` (default: the AVSynth folder itself; the study's
    sweep passes its carved training split), media from ``data_dir``."""
    data = replace(cfg.data, train=record_files(records_dir or data_dir, "train", datasets),
                   root=str(data_dir), cache_dir=cache_dir(cfg))
    return RunConfig(name=name, output_dir=str(out / name), seed=cfg.seed, data=data, model=model, train=train)


def _inputs_changed_since(run_cfg: RunConfig, started: Path) -> bool:
    """Whether the stage's inputs — the AVSynth set (its manifest) and the model it starts from — were
    rewritten after the stage began (``started``: its config.yaml, written at the start)."""
    inputs = [Path(run_cfg.data.root) / "manifest.json"]
    if run_cfg.model.checkpoint is not None:
        inputs.append(Path(run_cfg.model.checkpoint) / "crabplus_model.json")
    newest = max((p.stat().st_mtime for p in inputs if p.is_file()), default=0.0)
    return started.is_file() and started.stat().st_mtime < newest


def train_stage(run_cfg: RunConfig) -> Path:
    """Train one stage, or reuse its finished result when the resolved configuration is unchanged and its
    inputs (data set, starting model) are not newer than it. A stage whose inputs changed starts afresh;
    an interrupted one resumes."""
    from crabplus.train import train

    out = Path(run_cfg.output_dir)
    final, saved = out / "final", out / "config.yaml"
    stale = _inputs_changed_since(run_cfg, saved)
    finished = final.is_dir() and saved.is_file() and not stale
    if finished and yaml.safe_load(saved.read_text(encoding="utf-8")) == to_dict(run_cfg):
        print0(f"[demo] reusing finished stage {run_cfg.name} ({final})")
        return final
    if stale:
        print0(f"[demo] stage {run_cfg.name}: its data set or starting model changed since it ran; training anew")
    t0 = time.perf_counter()
    result = train(run_cfg, resume=not stale, overwrite=stale)
    last = result.losses[-1] if result.losses else float("nan")
    print0(f"[demo] stage {run_cfg.name}: {result.steps} steps in {time.perf_counter() - t0:.1f} s, "
           f"last loss {last:.3f}")
    return result.checkpoint


def evaluate_run(cfg: DemoConfig, checkpoint: Path, data_dir: Path, out_dir: Path, datasets=None, *,
                 split: str = "test", records_dir: Path | None = None) -> dict:
    """Predict on ``split`` (test; the study's sweep: ``val`` from ``records_dir``) and score it; writes
    predictions.jsonl and the report into ``out_dir``."""
    from crabplus.evaluate import evaluate_predictions
    from crabplus.infer import predict_records, write_predictions
    from crabplus.schema.records import load_records

    records = []
    for path in record_files(records_dir or data_dir, split, datasets):
        recs = load_records(path)
        records.extend(recs[: cfg.max_eval_per_dataset] if cfg.max_eval_per_dataset else recs)
    t0 = time.perf_counter()
    rows = predict_records(checkpoint, records, data_dir, batch_size=cfg.eval.batch_size,
                           max_new_tokens=cfg.eval.max_new_tokens, image_size=cfg.data.image_size,
                           cache_dir=cache_dir(cfg))
    write_predictions(out_dir / "predictions.jsonl", rows)
    report = evaluate_predictions(records, rows, data_dir, out_dir=out_dir, config=cfg.eval)
    print0(f"[demo] predicted and scored {len(records)} test records in {time.perf_counter() - t0:.1f} s "
           f"-> {out_dir / 'report.md'}")
    return report


def evaluate_once(cfg: DemoConfig, final: Path, data_dir: Path, eval_dir: Path, datasets=None, *,
                  split: str = "test", records_dir: Path | None = None) -> dict:
    """Evaluate a run, or reuse its report when it is newer than the model it scored."""
    report = eval_dir / "report.json"
    marker = final / "crabplus_model.json"
    if report.is_file() and marker.is_file() and report.stat().st_mtime > marker.stat().st_mtime:
        print0(f"[demo] reusing evaluation {report}")
        return json.loads(report.read_text())
    return evaluate_run(cfg, final, data_dir, eval_dir, datasets, split=split, records_dir=records_dir)


def print_table(report: dict, title: str) -> None:
    """The per-dataset table on the terminal: headline score beside chance (the mean of the draws) and its
    band, whether the score is beyond it, n and unparsed."""
    from rich.console import Console
    from rich.table import Table

    from crabplus.evaluate.markdown import mark
    from crabplus.schema.registry import DATASETS

    table = Table(title=title)
    for col in ("dataset", "task", "metric", "score", "chance", "band", "beyond", "n", "unparsed"):
        table.add_column(col, justify="left" if col in ("dataset", "task", "metric") else "right")
    def fmt(value) -> str:
        return f"{value:.3f}" if value is not None else "-"

    for name, row in report["datasets"].items():
        arrow = "" if row.get("higher_is_better", True) else " (lower is better)"
        table.add_row(name, DATASETS[name].task, row["primary_metric"] + arrow, fmt(row["primary"]),
                      fmt(row["chance"]["primary"]), fmt(row["chance"].get("band")),
                      mark(row.get("beyond_chance"), row.get("one_place_prompts", False)),
                      str(row["n"]), str(row["unparsed"]))
    rows = list(report["datasets"].values())
    beyond = sum(row.get("beyond_chance") is True for row in rows)
    one_place = sum(row.get("beyond_chance") is True and row.get("one_place_prompts", False) for row in rows)
    draws = report.get("config", {}).get("chance_draws", 1)
    table.caption = (f"chance: the mean of {draws} seeded draws; band: their 95th percentile (5th when lower is "
                     f"better); beyond the band on {beyond} of {len(rows)} datasets"
                     + (f", {one_place} of them ✓*: answers pointing at one place whatever the frame, so the mask "
                        "score is the segmenter's (not counted below)" if one_place else ""))
    Console(width=120).print(table)
    types = task_types_beyond_chance(report)
    missing = [t for t, ok in types.items() if not ok]
    print0(f"[demo] task types beyond chance: {len(types) - len(missing)} of {len(types)}"
           + (f" (not yet: {', '.join(missing)})" if missing else ""))


def task_types_beyond_chance(report: dict) -> dict[str, bool]:
    """Per task type (in the registry's order): whether at least one of its datasets' headline scores is
    beyond the chance band — not counting a mask score whose answers point at one place whatever the frame."""
    from crabplus.schema.registry import DATASETS

    out: dict[str, bool] = {}
    for name, row in report["datasets"].items():
        task = DATASETS[name].task
        learned = row.get("beyond_chance") is True and not row.get("one_place_prompts", False)
        out[task] = out.get(task, False) or learned
    return out


def base_model(cfg: DemoConfig, out: Path) -> Path:
    """The frozen base every adapter starts from: the shipped perception-pretrained one, or (``retrain_base``)
    one made again in ``out`` from the perception corpus with the demo's ``base`` settings."""
    from crabplus.experiments.base import SHIPPED_BASE, BaseConfig, pretrain_base

    if not cfg.retrain_base:
        if not (SHIPPED_BASE / "model.safetensors").is_file():
            raise FileNotFoundError(f"{SHIPPED_BASE}: the shipped base is missing (make it with `python -m "
                                    "crabplus.experiments.base --ship`, or run the demo with retrain_base=true)")
        print0(f"[demo] base: the shipped perception-pretrained model ({SHIPPED_BASE})")
        return SHIPPED_BASE
    base_cfg = BaseConfig(output_dir=str(out), seed=cfg.seed, corpus_scale=cfg.corpus_scale, data=cfg.data,
                          synth=replace(cfg.synth, datasets=None),
                          model=replace(cfg.model, adapter="none", checkpoint=None), train=cfg.base,
                          threads=cfg.threads)
    return pretrain_base(base_cfg)


def run_demo(cfg: DemoConfig) -> dict:
    """Run the demo (or, with ``cfg.full``, the transfer study) and return its summary, with ``cfg.threads``
    torch threads (the caller's count is restored after)."""
    import torch

    if cfg.threads is None or cfg.threads == torch.get_num_threads():
        return _run_demo(cfg)
    before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _run_demo(cfg)
    finally:
        torch.set_num_threads(before)


def _run_demo(cfg: DemoConfig) -> dict:
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "demo_config.yaml")
    t0 = time.perf_counter()
    data_dir = synthesize(cfg, out)
    base = base_model(cfg, out)
    if cfg.full:
        from crabplus.experiments.study import run_study

        summary = run_study(cfg, out, data_dir, base)
    else:
        model = replace(cfg.model, adapter="ilora", checkpoint=str(base))
        adapted = train_stage(run_config(cfg, out, "ilora", data_dir, train=cfg.adapter, model=model))
        report = evaluate_once(cfg, adapted, data_dir, out / "eval")
        print_table(report, "crabplus demo: tiny Crab+ (I-LoRA) on AVSynth — test split")
        summary = {"report": str(out / "eval" / "report.md"), "datasets": len(report["datasets"]),
                   "beyond_chance": sorted(n for n, r in report["datasets"].items() if r.get("beyond_chance")),
                   "task_types_beyond_chance": task_types_beyond_chance(report)}
    summary["elapsed_s"] = round(time.perf_counter() - t0, 1)
    atomic_write_json(out / "summary.json", summary)
    print0(f"[demo] done in {summary['elapsed_s']:.0f} s; report: {summary.get('report')}")
    return summary
