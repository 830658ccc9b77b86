"""Generating AVSynth: every clip of every mirror dataset, the record files and the manifest.

Layout under the data root ``OUT`` (media paths in records are relative to it)::

    OUT/manifest.json                 counts per dataset and split, generator version, seed, config
    OUT/<dataset>/train.jsonl         unified records (crabplus.schema.records)
    OUT/<dataset>/test.jsonl
    OUT/<dataset>/media/<split>-<index>[-suffix].{mp4,wav,png}
    OUT/.avsynth                      marks the folder as AVSynth's (written first)

Clips are independent (each has its own seed), so they render in any order and in any number of
processes with the same bytes; records are written in (dataset, split, index) order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crabplus.config.core import ConfigError, to_dict
from crabplus.schema.records import Record, record_from_json, write_records
from crabplus.schema.registry import dataset_names
from crabplus.synth.config import SynthConfig
from crabplus.utils.errors import CrabplusError
from crabplus.utils.io import atomic_write_json, read_json
from crabplus.utils.progress import progress_bar

#: Bumped whenever the same seed would render different bytes (the world, a builder, an encoder
#: setting). Recorded in the manifest so results can be traced to the data they came from.
GENERATOR_VERSION = "1.4.0"  # 1.1: a background tint per dataset (crabplus.synth.studio); 1.2: faces too;
# 1.3: matching chains name both candidates before the choice; 1.4: no chain before a caption
GENERATOR = "avsynth"
SPLITS = ("train", "test")


class SynthError(CrabplusError, RuntimeError):
    """The output folder cannot be used, or a clip failed to render (the message names it)."""


@dataclass
class Manifest:
    """What a generated folder holds. ``counts[dataset][split]`` is the number of records."""

    generator: str
    version: str
    seed: int
    config: dict[str, Any]
    counts: dict[str, dict[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "version": self.version,
            "seed": self.seed,
            "config": self.config,
            "counts": self.counts,
            "files": {d: {s: f"{d}/{s}.jsonl" for s in c} for d, c in self.counts.items()},
        }

    @property
    def datasets(self) -> list[str]:
        return list(self.counts)

    @property
    def total(self) -> int:
        return sum(n for c in self.counts.values() for n in c.values())


def load_manifest(out_dir: str | Path) -> Manifest:
    """The manifest of a generated folder; a missing or foreign file is an error naming it."""
    path = Path(out_dir) / "manifest.json"
    obj = read_json(path, SynthError, f"{path}: no AVSynth manifest (generate with `crabplus data synth`)")
    if not isinstance(obj, dict) or obj.get("generator") != GENERATOR:
        raise SynthError(f"{path}: not an AVSynth manifest (field 'generator' is not {GENERATOR!r})")
    try:
        return Manifest(obj["generator"], obj["version"], obj["seed"], obj["config"], obj["counts"])
    except KeyError as exc:
        raise SynthError(f"{path}: missing field {exc.args[0]!r}") from None


#: written first into every output folder, so that a run that stopped half way (no manifest yet)
#: is still recognised as AVSynth's and can be regenerated in place
MARKER = ".avsynth"


def _prepare(out: Path) -> None:
    """Make ``out`` ready: new or empty, or a previous AVSynth folder (complete or not) whose
    datasets are removed, so the folder holds exactly this run. Any other non-empty folder is
    refused, never deleted from."""
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        if (out / "manifest.json").is_file():
            load_manifest(out)  # raises unless it is AVSynth's
        elif not (out / MARKER).is_file():
            raise SynthError(f"{out}: folder is not empty and holds no AVSynth manifest; choose an empty or new folder")
        (out / "manifest.json").unlink(missing_ok=True)
        for name in dataset_names():
            if (out / name).is_dir():
                shutil.rmtree(out / name)
    (out / MARKER).write_text(json.dumps({"generator": GENERATOR}) + "\n", encoding="utf-8")


def mirrored(cfg: SynthConfig) -> list[str]:
    """The datasets to generate: ``cfg.datasets``, or every registered dataset that has a mirror (a benchmark
    registered without one simply gets no clips). A named dataset without a mirror is an error."""
    from crabplus.synth.datasets import BUILDERS, mirrored_datasets  # numpy and PyAV: only when generating

    if cfg.datasets is None:
        return mirrored_datasets()
    missing = [d for d in cfg.datasets if d not in BUILDERS]
    if missing:
        raise ConfigError(f"synth.datasets: {missing} have no AVSynth mirror (mirrored: {', '.join(BUILDERS)})")
    return list(cfg.datasets)


def render_clip(job: tuple[SynthConfig, str, str, str, int]) -> dict[str, Any]:
    """Render one clip and return its record as JSON (a top-level function, so workers can run it)."""
    from crabplus.synth.clip import Clip  # here, not at the top: numpy and PyAV only when a clip is rendered
    from crabplus.synth.datasets import BUILDERS

    cfg, out, dataset, split, index = job
    clip = Clip(cfg, out, dataset, split, index)
    try:
        record = BUILDERS[dataset](clip)
    except Exception as exc:
        raise SynthError(f"{clip.id} (seed {cfg.seed}): rendering failed: {type(exc).__name__}: {exc}") from exc
    return record.to_json()


class _Quiet:
    def update(self, n: int = 1, info: str | None = None) -> None:
        pass


def _workers(cfg: SynthConfig) -> int:
    return cfg.workers if cfg.workers > 0 else min(8, os.cpu_count() or 1)


def generate(out_dir: str | Path, config: SynthConfig | None = None, progress: bool = True) -> Manifest:
    """Generate AVSynth into ``out_dir`` and return its :class:`Manifest`.

    Every record is validated (``record_from_json``) before it is written; the manifest is written
    last, so a folder with a manifest is complete. Same config (seed included) and
    ``GENERATOR_VERSION`` give the same bytes, whatever ``config.workers``.
    """
    cfg = config or SynthConfig()
    if not isinstance(cfg, SynthConfig):
        raise ConfigError(f"generate: expected a SynthConfig, got {type(cfg).__name__}")
    out = Path(out_dir)
    _prepare(out)
    n_train, n_test = cfg.split_sizes
    jobs = [
        (cfg, str(out), d, s, i) for d in mirrored(cfg) for s, n in zip(SPLITS, (n_train, n_test)) for i in range(n)
    ]
    workers = min(_workers(cfg), len(jobs))
    results: list[dict[str, Any]] = []
    with progress_bar("AVSynth", total=len(jobs)) if progress else nullcontext(_Quiet()) as bar:
        if workers <= 1:
            for job in jobs:
                results.append(render_clip(job))
                bar.update(info=job[2])
        else:
            # spawn, not fork: the caller may hold threads (torch, a progress bar) that fork would copy
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                for job, rec in zip(jobs, pool.map(render_clip, jobs, chunksize=4)):
                    results.append(rec)
                    bar.update(info=job[2])
    grouped: dict[tuple[str, str], list[Record]] = {}
    for rec in results:
        grouped.setdefault((rec["dataset"], rec["split"]), []).append(record_from_json(rec))
    counts: dict[str, dict[str, int]] = {}
    for (dataset, split), records in grouped.items():
        write_records(out / dataset / f"{split}.jsonl", records)
        counts.setdefault(dataset, {})[split] = len(records)
    settings = {k: v for k, v in to_dict(cfg).items() if k != "workers"}  # workers never change the bytes
    manifest = Manifest(GENERATOR, GENERATOR_VERSION, cfg.seed, settings, counts)
    atomic_write_json(out / "manifest.json", manifest.to_json())
    return manifest
