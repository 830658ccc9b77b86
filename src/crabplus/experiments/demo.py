"""``crabplus demo``: the main job on the embedded default, end to end.

AVSynth set -> the shipped perception-pretrained tiny backbone (or a base stage on the perception corpus,
``retrain_base``) -> I-LoRA multi-task adapter -> predictions on every
mirror dataset's test split -> official metrics beside chance -> ``report.md`` and plots.
With ``full`` it runs the transfer study instead of the single adapter (see ``study.py``).

The demo only composes the stages of ``crabplus.experiments.stages``: each one's output is reused while the
stamp beside it matches its resolved configuration and its inputs' contents; an interrupted training stage
resumes from its last checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from crabplus.config.core import save_config
from crabplus.experiments import stages
from crabplus.experiments.compose import predict_and_evaluate, run_config
from crabplus.experiments.config import DemoConfig
from crabplus.schema.report import Report
from crabplus.utils.dist import print0
from crabplus.utils.io import atomic_write_json

DATA_DIR = "data"


def print_table(report: Report, title: str) -> None:
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

    for name, row in report.datasets.items():
        arrow = "" if row.higher_is_better else " (lower is better)"
        table.add_row(
            name,
            DATASETS[name].task,
            row.primary_metric + arrow,
            fmt(row.primary),
            fmt(row.chance.primary),
            fmt(row.chance.band),
            mark(row.beyond_chance, row.one_place_prompts),
            str(row.n),
            str(row.unparsed),
        )
    rows = list(report.datasets.values())
    beyond = sum(row.beyond_chance is True for row in rows)
    one_place = sum(row.beyond_chance is True and row.one_place_prompts for row in rows)
    draws = report.config.chance_draws
    table.caption = (
        f"chance: the mean of {draws} seeded draws; band: their 95th percentile (5th when lower is "
        f"better); beyond the band on {beyond} of {len(rows)} datasets"
        + (
            f", {one_place} of them ✓*: answers pointing at one place whatever the frame, so the mask "
            "score is the segmenter's (not counted below)"
            if one_place
            else ""
        )
    )
    Console(width=120).print(table)
    types = task_types_beyond_chance(report)
    missing = [t for t, ok in types.items() if not ok]
    print0(
        f"[demo] task types beyond chance: {len(types) - len(missing)} of {len(types)}"
        + (f" (not yet: {', '.join(missing)})" if missing else "")
    )


def task_types_beyond_chance(report: Report) -> dict[str, bool]:
    """Per task type (in the registry's order): whether at least one of its datasets' headline scores is
    beyond the chance band — not counting a mask score whose answers point at one place whatever the frame."""
    from crabplus.schema.registry import DATASETS

    out: dict[str, bool] = {}
    for name, row in report.datasets.items():
        task = DATASETS[name].task
        learned = row.beyond_chance is True and not row.one_place_prompts
        out[task] = out.get(task, False) or learned
    return out


def base_model(cfg: DemoConfig, out: Path) -> Path:
    """The frozen base every adapter starts from: the shipped perception-pretrained one, or (``retrain_base``)
    one made again in ``out`` from the perception corpus with the demo's ``base`` settings."""
    from crabplus.experiments.base import SHIPPED_BASE, BaseConfig, pretrain_base

    if cfg.base_model is not None:
        print0(f"[demo] base: {cfg.base_model}")
        return Path(cfg.base_model)
    if not cfg.retrain_base:
        if not (SHIPPED_BASE / "model.safetensors").is_file():
            raise FileNotFoundError(
                f"{SHIPPED_BASE}: the shipped base is missing (make it with `python -m "
                "crabplus.experiments.base --ship`, or run the demo with retrain_base=true)"
            )
        print0(f"[demo] base: the shipped perception-pretrained model ({SHIPPED_BASE})")
        return SHIPPED_BASE
    base_cfg = BaseConfig(
        output_dir=str(out),
        seed=cfg.seed,
        corpus_scale=cfg.corpus_scale,
        data=cfg.data,
        synth=replace(cfg.synth, datasets=None),
        model=replace(cfg.model, adapter="none", checkpoint=None),
        train=cfg.base,
        encoders=cfg.encoders,
        refine=cfg.refine,
        refine_clips_scale=cfg.corpus_scale,
        val_clips_scale=min(BaseConfig.val_clips_scale, cfg.corpus_scale),
        threads=cfg.threads,
    )
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
    data_dir = stages.synthesize(cfg.synth, out / DATA_DIR)
    base = base_model(cfg, out)
    if cfg.full:
        from crabplus.experiments.study import run_study

        summary = run_study(cfg, out, data_dir, base)
    else:
        model = replace(cfg.model, adapter="ilora", checkpoint=str(base))
        adapted = stages.train(run_config(cfg, out, "ilora", data_dir, train=cfg.adapter, model=model))
        report = predict_and_evaluate(cfg, adapted, data_dir, out / "eval")
        print_table(report, "crabplus demo: tiny Crab+ (I-LoRA) on AVSynth — test split")
        summary = {
            "report": str(out / "eval" / "report.md"),
            "datasets": len(report.datasets),
            "beyond_chance": sorted(n for n, r in report.datasets.items() if r.beyond_chance),
            "task_types_beyond_chance": task_types_beyond_chance(report),
        }
    summary["elapsed_s"] = round(time.perf_counter() - t0, 1)
    atomic_write_json(out / "summary.json", summary)
    print0(f"[demo] done in {summary['elapsed_s']:.0f} s; report: {summary.get('report')}")
    return summary
