"""The transfer study on AVSynth (``crabplus demo --full``): does I-LoRA turn negative transfer into
positive transfer, as the paper reports on real data?

Every run is adapters only on the frozen perception-pretrained base (no run ever trains the base):

- ``single``: one I-LoRA adapter per dataset, trained on that dataset alone;
- ``ilora``: one I-LoRA adapter (rank r, N heads) trained on all 19 datasets;
- ``lora``: one plain-LoRA adapter (PEFT) on all 19, at the rank whose trainable-parameter count is closest
  to I-LoRA's (:func:`matched_lora_rank`);
- ``lora_same_rank``: plain LoRA at I-LoRA's rank r (fewer parameters: no extra heads, no router).

Budget: the paper trains every run for the same number of epochs, so a multi-task run sees each dataset as
often as that dataset's single-task run. Every run gets ``study_steps_per_dataset`` optimizer steps per
dataset it trains on, drawn evenly across datasets (``sampling_balance: dataset``); the other adapter
settings are the demo's ``adapter`` section. Every run is repeated for each seed of ``study_seeds`` (the
seed sets the data order and the adapters' initial weights; the base is the same), and the transfer table
(``crabplus.evaluate.seeds``) pairs single and multi-task runs by seed.

Ranks and the split: with ``study_ranks`` unset the study runs at the model's I-LoRA rank and scores the
test split (the final comparison). With a list of ranks it is the *sweep*: each rank is trained on the
training clips minus ``study_val_per_dataset`` per dataset, scored on those held-out clips (validation,
never test), and the rank with the best mean validation score of the multi-task runs is named in
``sweep/sweep.json``; the final comparison is then run at that rank (``model.ilora.rank``).

Every run is composed of the stages of ``crabplus.experiments.stages`` (train, predict, evaluate; the sweep's
validation split), each reused while the stamp beside its output matches, so an interrupted study continues
where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from crabplus.experiments import stages
from crabplus.experiments.compose import predict_and_evaluate, run_config
from crabplus.experiments.config import DemoConfig
from crabplus.schema.report import Report, RoutingSummary, TaskRouting
from crabplus.utils.dist import print0
from crabplus.utils.io import atomic_write_json, atomic_write_text

#: the sweep's carved training and validation records, under the study's output folder
SPLITS_DIR = "splits"


def trainable_count(model_cfg) -> int:
    """Trainable parameters of the model ``model_cfg`` builds (the adapter on its frozen base)."""
    from crabplus.train.recipe import build_model

    _, model = build_model(model_cfg)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def matched_lora_rank(model_cfg, rank: int) -> tuple[int, dict[str, int]]:
    """The plain-LoRA rank whose trainable-parameter count is closest to I-LoRA's at ``rank`` (LoRA's count
    is linear in its rank), and the counts: ``{"ilora", "lora", "lora_same_rank"}``."""
    ilora = trainable_count(_method_model(model_cfg, "ilora", rank, 1))
    per_rank = trainable_count(_method_model(model_cfg, "lora_same_rank", 1, 1))
    matched = max(1, round(ilora / per_rank))
    return matched, {"ilora": ilora, "lora": matched * per_rank, "lora_same_rank": rank * per_rank}


def _method_model(model_cfg, method: str, rank: int, lora_rank: int):
    """The model of one study method at I-LoRA ``rank``: every method and rank at the configured I-LoRA's scale
    ``alpha / rank`` (so ``model.ilora.alpha`` is honoured; plain LoRA's rank is the study's)."""
    scale = model_cfg.ilora.alpha / model_cfg.ilora.rank
    if method in ("ilora", "single"):
        return replace(model_cfg, adapter="ilora", ilora=replace(model_cfg.ilora, rank=rank, alpha=scale * rank))
    r = lora_rank if method == "lora" else rank
    return replace(model_cfg, adapter="lora", lora=replace(model_cfg.lora, rank=r, alpha=scale * r))


class Progress:
    """One line per run: which, how long, how far through the study."""

    def __init__(self, total: int):
        self.total, self.done, self.t0 = total, 0, time.perf_counter()

    def __call__(self, what: str, seconds: float) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        print0(f"[study] run {self.done}/{self.total}: {what} ({seconds:.0f} s; study {elapsed / 60:.1f} min)")


@dataclass(frozen=True)
class StudyRun:
    """One run of the study: an adapter trained and scored (everything a worker process needs)."""

    cfg: DemoConfig
    out: Path
    data_dir: Path
    base: Path
    rank: int
    lora_rank: int
    split: str
    seed: int
    name: str  # "ilora", "lora", "single-<dataset>"
    method: str
    train: object  # TrainConfig
    datasets: tuple[str, ...] | None = None

    def __call__(self) -> tuple[Report, float]:
        t0 = time.perf_counter()
        train_dir = self.data_dir if self.split == "test" else self.out / SPLITS_DIR
        model = replace(
            _method_model(self.cfg.model, self.method, self.rank, self.lora_rank), checkpoint=str(self.base)
        )
        stage = f"study-{self.split}/r{self.rank}/s{self.seed}/{self.name}"
        names = list(self.datasets) if self.datasets else None
        run_cfg = replace(
            run_config(
                self.cfg,
                self.out,
                stage,
                self.data_dir,
                train=self.train,
                model=model,
                datasets=names,
                records_dir=train_dir,
            ),
            seed=self.seed,
        )
        final = stages.train(run_cfg)
        report = predict_and_evaluate(
            self.cfg, final, self.data_dir, self.out / f"eval-{stage}", names, split=self.split, records_dir=train_dir
        )
        return report, time.perf_counter() - t0


def _run_in_worker(run: StudyRun) -> tuple[Report, float]:
    """A worker process's entry: one thread, as the demo's stages use (see ``DemoConfig.threads``)."""
    import torch

    torch.set_num_threads(run.cfg.threads or 1)
    return run()


def execute(runs: list[StudyRun], workers: int, progress: Progress) -> list[Report]:
    """Every run, in ``workers`` processes at once (1: here, one after the other); reports in the runs' order.
    Runs share nothing but finished stages, each in its own folder, so the order they finish in changes no
    number; a rerun reuses every stamped stage."""
    if workers <= 1 or len(runs) == 1:
        reports = []
        for run in runs:
            report, seconds = run()
            progress(f"rank {run.rank}, seed {run.seed}, {run.name}", seconds)
            reports.append(report)
        return reports
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    reports: list[Report | None] = [None] * len(runs)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_run_in_worker, run): i for i, run in enumerate(runs)}
        for future in as_completed(futures):
            i = futures[future]
            reports[i], seconds = future.result()
            progress(f"rank {runs[i].rank}, seed {runs[i].seed}, {runs[i].name}", seconds)
    return reports  # type: ignore[return-value]


def run_rank(cfg: DemoConfig, out: Path, data_dir: Path, base: Path, rank: int, split: str, progress: Progress) -> dict:
    """Every run of one rank and every seed (``cfg.study_workers`` at once); returns ``{"singles": {seed:
    [report]}, "multis": {method: {seed: report}}, "params": …, "lora_rank": …}``."""
    if split != "test":
        stages.carve_validation(data_dir, out / SPLITS_DIR, cfg.study_val_per_dataset)
    datasets = [Path(f).parent.name for f in stages.record_files(data_dir, "test")]
    lora_rank, params = matched_lora_rank(replace(cfg.model, checkpoint=str(base)), rank)
    steps = cfg.study_steps_per_dataset

    def budget(n: int, **changes):
        total = steps * n
        return replace(
            cfg.adapter,
            max_steps=total,
            save_steps=min(cfg.adapter.save_steps, total),
            sampling_balance="dataset",
            **changes,
        )

    def run(seed: int, name: str, method: str, train, names=None) -> StudyRun:
        return StudyRun(cfg, out, data_dir, base, rank, lora_rank, split, seed, name, method, train, names)

    runs = []
    for seed in cfg.study_seeds:  # the long multi-task runs first, so that the workers end together
        runs += [run(seed, method, method, budget(len(datasets))) for method in cfg.study_methods]
    for seed in cfg.study_seeds:
        runs += [
            run(seed, f"single-{n}", "single", budget(1, stage="single", single_dataset=n), (n,)) for n in datasets
        ]
    reports = dict(zip([(r.seed, r.name) for r in runs], execute(runs, cfg.study_workers, progress)))
    singles = {seed: [reports[(seed, f"single-{n}")] for n in datasets] for seed in cfg.study_seeds}
    multis = {m: {seed: reports[(seed, m)] for seed in cfg.study_seeds} for m in cfg.study_methods}
    return {"singles": singles, "multis": multis, "params": params, "lora_rank": lora_rank}


def runs_per_rank(cfg: DemoConfig, n_datasets: int = 19) -> int:
    return len(cfg.study_seeds) * (len(cfg.study_methods) + n_datasets)


def write_rank(result: dict, dest: Path, rank: int) -> dict:
    """``transfer.json``/``.md`` (over seeds) and ``routing.json``/``routing.png`` (I-LoRA multi-task) into
    ``dest``; returns the transfer table."""
    from crabplus.evaluate.plots import plot_routing
    from crabplus.evaluate.routing_stats import routing_divergence
    from crabplus.evaluate.seeds import render_seed_transfer, seed_transfer

    table = seed_transfer(result["singles"], result["multis"])
    table.update({"rank": rank, "lora_rank": result["lora_rank"], "trainable_params": result["params"]})
    dest.mkdir(parents=True, exist_ok=True)
    md = (
        render_seed_transfer(table)
        + "\nTrainable parameters: "
        + ", ".join(f"{m} {n:,}" for m, n in result["params"].items())
        + f" (I-LoRA rank {rank}, plain LoRA rank "
        f"{result['lora_rank']} matched, {rank} same rank)\n"
    )
    from crabplus.evaluate.seed_plots import plot_seed_transfer

    if plot_seed_transfer(table, dest / "transfer.png") is not None:
        md += "\n![transfer over seeds](transfer.png)\n"
    atomic_write_text(dest / "transfer.md", md)
    atomic_write_json(dest / "transfer.json", table)
    routing = {}
    summaries = [r.routing for r in result["multis"].get("ilora", {}).values() if r.routing is not None]
    if summaries:
        per_seed = [routing_divergence(s) for s in summaries]
        mean = _mean_summary(summaries)
        routing = {
            "mean_js_per_seed": [p["mean_js"] for p in per_seed],
            "mean_js": sum(p["mean_js"] or 0 for p in per_seed) / len(per_seed),
            "over_seeds": routing_divergence(mean),
        }
        plot_routing(mean, dest / "routing.png")
    atomic_write_json(dest / "routing.json", routing)
    table["routing_mean_js"] = routing.get("mean_js")
    return table


def _mean_summary(summaries: list[RoutingSummary]) -> RoutingSummary:
    """Routing summaries of several seeds averaged per task type (weighted equally)."""
    import numpy as np

    tasks = sorted(set.intersection(*(set(s.tasks) for s in summaries)))
    mean = {
        t: TaskRouting(
            sum(s.tasks[t].n for s in summaries), np.mean([s.tasks[t].mean for s in summaries], axis=0).tolist()
        )
        for t in tasks
    }  # [L, N]
    return RoutingSummary(summaries[0].num_heads, summaries[0].layers, mean)


def validation_score(result: dict) -> float:
    """The sweep's selection score: the mean over the multi-task runs (every method and seed) of their mean
    headline score in chance-band widths above chance (``crabplus.evaluate.seeds.bands_above_chance``)."""
    from crabplus.evaluate.seeds import bands_above_chance

    values = [bands_above_chance(r) for by_seed in result["multis"].values() for r in by_seed.values()]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("-inf")


def run_study(cfg: DemoConfig, out: Path, data_dir: Path, base: Path) -> dict:
    n = len(stages.record_files(data_dir, "test"))
    ranks = cfg.study_ranks or [cfg.model.ilora.rank]
    sweep = cfg.study_ranks is not None
    split = "val" if sweep else "test"
    progress = Progress(len(ranks) * runs_per_rank(cfg, n))
    print0(
        f"[study] {'sweep on validation' if sweep else 'final comparison on test'}: ranks {ranks}, seeds "
        f"{cfg.study_seeds}, methods {list(cfg.study_methods)} + single; {progress.total} runs"
    )
    tables = {}
    for rank in ranks:
        result = run_rank(cfg, out, data_dir, base, rank, split, progress)
        dest = out / ("sweep" if sweep else "transfer") / (f"r{rank}" if sweep else "")
        tables[rank] = write_rank(result, dest, rank)
        tables[rank]["validation_score"] = validation_score(result) if sweep else None
        print0((dest / "transfer.md").read_text())
    summary = {
        "split": split,
        "ranks": ranks,
        "seeds": cfg.study_seeds,
        "per_rank": {
            str(r): {
                "headline": t["headline"],
                "methods": t["methods"],
                "routing_mean_js": t["routing_mean_js"],
                "trainable_params": t["trainable_params"],
                "lora_rank": t["lora_rank"],
                "validation_score": t["validation_score"],
            }
            for r, t in tables.items()
        },
    }
    if sweep:
        best = max(ranks, key=lambda r: tables[r]["validation_score"])
        summary["chosen_rank"] = best
        summary["rule"] = (
            "the rank with the highest mean validation score of the multi-task runs (chance-band "
            "widths above chance, every method and seed)"
        )
        atomic_write_json(out / "sweep" / "sweep.json", summary)
        print0(f"[study] sweep: chosen rank {best}; run the final comparison with model.ilora.rank={best}")
    else:
        atomic_write_json(out / "study.json", summary)
    return {"report": str(out / ("sweep/sweep.json" if sweep else "transfer/transfer.md")), **summary}
