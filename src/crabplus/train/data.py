"""Training data: record files -> one indexable dataset of processed samples + the sampler's groups.

Records come from any mix of files (``data.train``, files or folders of them); each file's media
resolves against ``data.root`` or, when unset, the one default of every command
(:func:`crabplus.schema.records.default_root`: the nearest folder holding an AVSynth ``manifest.json``, else
the file's own folder). ``data.datasets`` (and
``train.single_dataset`` for the single-task stage) choose which datasets take part. Records of the
``test`` split never train, even when a folder given as ``data.train`` holds test files too (an
AVSynth folder does): they are left out and counted. The sampler needs, per dataset, the
positions of its records in the concatenated dataset; that is what :func:`build_train_data` returns
beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import ConcatDataset, Dataset

from crabplus.config.core import ConfigError
from crabplus.data.config import DataConfig
from crabplus.schema.records import Record, default_root, iter_record_files, load_records
from crabplus.train.config import TrainConfig
from crabplus.utils.dist import print0


@dataclass
class RecordSource:
    """The records of one file that take part, and the root their media resolves against."""

    file: Path
    root: Path
    records: list[Record]


@dataclass
class TrainData:
    dataset: Dataset
    groups: dict[str, list[int]]  # dataset name -> indices into ``dataset``
    sources: list[RecordSource]
    parts: list[Dataset] = field(default_factory=list)  # one RecordDataset per source (skip counts)

    @property
    def sizes(self) -> dict[str, int]:
        return {d: len(idx) for d, idx in self.groups.items()}


def wanted_datasets(data_cfg: DataConfig, train_cfg: TrainConfig) -> set[str] | None:
    """The dataset names that train (None = every dataset found in the files)."""
    wanted = set(data_cfg.datasets) if data_cfg.datasets is not None else None
    if train_cfg.stage == "single":
        if wanted is not None and train_cfg.single_dataset not in wanted:
            raise ConfigError(
                f"train.single_dataset {train_cfg.single_dataset!r} is not in data.datasets {sorted(wanted)}"
            )
        wanted = {train_cfg.single_dataset}
    return wanted


def check_base_corpus(datasets: set[str]) -> None:
    """The base stage trains on the perception corpus only (``crabplus.synth.pretrain``): a base that saw the
    19 datasets' instructions and tagged answers would already be the multi-task model, leaving the adapters
    (and the transfer study) nothing to learn."""
    from crabplus.schema.perception import is_perception

    tasked = sorted(d for d in datasets if not is_perception(d))
    if tasked:
        raise ConfigError(
            f"train.stage 'base' trains on the perception corpus only (datasets pt_*, made by "
            f"crabplus.synth.pretrain); data.train holds instruction datasets {tasked}"
        )


def load_sources(data_cfg: DataConfig, train_cfg: TrainConfig) -> list[RecordSource]:
    """Read and validate every training record file, keeping the wanted datasets."""
    if not data_cfg.train:
        raise ConfigError("data.train names no record files (JSON Lines files or folders of them)")
    wanted = wanted_datasets(data_cfg, train_cfg)
    sources = []
    held_out = 0
    for path in iter_record_files(data_cfg.train):
        records = [r for r in load_records(path) if wanted is None or r.dataset in wanted]
        held_out += sum(r.split == "test" for r in records)
        records = [r for r in records if r.split != "test"]
        if records:
            root = Path(data_cfg.root) if data_cfg.root is not None else default_root(path)
            sources.append(RecordSource(path, root, records))
    found = {r.dataset for s in sources for r in s.records}
    if train_cfg.stage == "base":
        check_base_corpus(found)
    if not found:
        which = f" of datasets {sorted(wanted)}" if wanted is not None else ""
        raise ConfigError(f"no training records{which} in data.train {data_cfg.train} (test-split records never train)")
    if wanted is not None and wanted - found:
        raise ConfigError(f"data.train {data_cfg.train} has no training records of {sorted(wanted - found)}")
    if held_out:
        print0(f"train: left out {held_out} test-split record(s) found in data.train")
    return sources


def build_train_data(sources: list[RecordSource], processor, *, skip_bad: bool) -> TrainData:
    """One ``RecordDataset`` per source (media roots differ), concatenated, with per-dataset groups."""
    from crabplus.data.dataset import RecordDataset

    parts, groups, offset = [], {}, 0
    for source in sources:
        parts.append(RecordDataset(source.records, processor, source.root, with_target=True, skip_bad=skip_bad))
        for i, record in enumerate(source.records):
            groups.setdefault(record.dataset, []).append(offset + i)
        offset += len(source.records)
    return TrainData(ConcatDataset(parts), groups, sources, parts)
