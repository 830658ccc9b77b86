"""lmms-eval tasks for the AV-UIE benchmarks and their AVSynth mirrors, written from local record files.

``write_task_dir(out, record_files, group)`` writes, per dataset present in the records, a task YAML
``<group>_<dataset>.yaml`` (tagged ``<group>``, so ``--tasks <group>`` runs them all) and its documents
``<group>_<dataset>.jsonl`` (one row per record: id, dataset, the record as JSON, its data root), plus
``crabplus_lmms_utils.py`` naming the functions below. The YAML loads the documents with ``dataset_path:
json`` and absolute ``data_files``: nothing is downloaded. Run with ``lmms-eval --include_path OUT``.

The functions are this project's own behaviour, so lmms-eval's numbers are ``crabplus eval``'s:
``doc_to_text`` is the record's instruction (our processor adds the lead-in and the chat template, as
training did); ``process_results`` keeps the generated text with its record; the aggregation scores all of a
dataset's rows with :func:`crabplus.evaluate.evaluate_predictions` (our parser, the official metric) and
returns its ``primary`` value.
"""

from __future__ import annotations

import json
from pathlib import Path

from crabplus.schema.records import Record, record_from_json
from crabplus.schema.registry import DATASETS, dataset_names
from crabplus.schema.report import DatasetScore
from crabplus.schema.rows import PredictionRow

GROUPS = ("crabplus_avuie", "crabplus_avsynth")
UTILS = "crabplus_lmms_utils"
#: The metric key every task reports (the dataset's primary official metric; its name is in the docs).
METRIC = "crabplus_primary"


def task_name(group: str, dataset: str) -> str:
    return f"{group}_{dataset}"


# ---------------------------------------------------------------- the functions the YAMLs name


def doc_record(doc: dict) -> Record:
    return record_from_json(json.loads(doc["record"]))


def doc_to_visual(doc: dict) -> list[str]:
    """Absolute paths of the record's media (video or image, then audio, second video, second audio): what a
    generic lmms-eval model would load. The crabplus model reads the whole record instead."""
    media, root = doc_record(doc).media, Path(doc["root"])
    paths = [media.video or media.image, media.audio, media.video2, media.audio2]
    return [str(root / p) for p in paths if p]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    return doc_record(doc).instruction


def doc_to_target(doc: dict) -> str:
    return doc_record(doc).target


def process_results(doc: dict, results: list[str]) -> dict[str, dict]:
    return {
        METRIC: {
            "id": doc["id"],
            "dataset": doc["dataset"],
            "predict": results[0],
            "record": doc["record"],
            "root": doc["root"],
        }
    }


def score_rows(rows: list[dict], meteor: bool = True) -> dict[str, DatasetScore]:
    """``crabplus eval``'s per-dataset report entries for rows of :func:`process_results` (chance is drawn
    once only: the primary score does not depend on it)."""
    from crabplus.evaluate import evaluate_predictions
    from crabplus.evaluate.config import EvalConfig

    records = [record_from_json(json.loads(r["record"])) for r in rows]
    roots = {r["id"]: Path(r["root"]) for r in rows}
    preds = [PredictionRow(r["id"], r["dataset"], r["predict"]) for r in rows]
    report = evaluate_predictions(
        records, preds, roots, config=EvalConfig(chance_draws=1, mask_chance_draws=1, meteor=meteor)
    )
    return report.datasets


def aggregate(rows: list[dict]) -> float:
    """The dataset's primary official metric over every row (one dataset per task)."""
    datasets = score_rows(rows)
    if len(datasets) != 1:
        raise ValueError(f"a crabplus lmms-eval task scores one dataset, got {sorted(datasets)}")
    return float(next(iter(datasets.values())).primary)


# ---------------------------------------------------------------- writing the task folder


def _yaml(group: str, dataset: str, docs: Path, max_new_tokens: int) -> str:
    spec = DATASETS[dataset]
    return "\n".join(
        [
            f"# {spec.real_name} ({spec.task}; official metric: {spec.metric}) as an lmms-eval task, written by",
            "# `crabplus lmms-tasks`. Offline: the documents are the local file below.",
            f"task: {task_name(group, dataset)}",
            f"tag: {group}",
            "dataset_path: json",
            "dataset_kwargs:",
            "  data_files:",
            f"    test: {json.dumps(str(docs))}",
            "test_split: test",
            "output_type: generate_until",
            f"doc_to_visual: !function {UTILS}.doc_to_visual",
            f"doc_to_text: !function {UTILS}.doc_to_text",
            f"doc_to_target: !function {UTILS}.doc_to_target",
            "generation_kwargs:",
            f"  max_new_tokens: {max_new_tokens}",
            "  do_sample: false",
            f"process_results: !function {UTILS}.process_results",
            "metric_list:",
            f"  - metric: {METRIC}",
            f"    aggregation: !function {UTILS}.aggregate",
            f"    higher_is_better: {'false' if spec.metric == 'none' else 'true'}",
            "metadata:",
            "  version: 1",
            "",
        ]
    )


def write_task_dir(
    out: str | Path, record_files: list[str | Path], group: str = "crabplus_avsynth", max_new_tokens: int = 512
) -> list[str]:
    """Write the tasks for every dataset in ``record_files`` (each file's media resolve against its data root,
    as ``crabplus eval --data`` reads them) into ``out``; returns the task names."""
    from crabplus.evaluate import load_eval_records
    from crabplus.utils.io import atomic_write

    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    records, roots = load_eval_records([Path(p) for p in record_files])
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{UTILS}.py").write_text(
        '"""Written by `crabplus lmms-tasks`: the task functions are crabplus\'s own."""\n\n'
        "from crabplus.lmms.tasks import aggregate, doc_to_target, doc_to_text, doc_to_visual, process_results\n\n"
        '__all__ = ["aggregate", "doc_to_target", "doc_to_text", "doc_to_visual", "process_results"]\n',
        encoding="utf-8",
    )
    names = []
    for dataset in dataset_names():
        recs = [r for r in records if r.dataset == dataset]
        if not recs:
            continue
        name = task_name(group, dataset)
        docs = out / f"{name}.jsonl"
        lines = [
            json.dumps(
                {
                    "id": r.id,
                    "dataset": r.dataset,
                    "record": json.dumps(r.to_json()),
                    "root": str(Path(roots[r.id]).resolve()),
                }
            )
            for r in recs
        ]
        text = "\n".join(lines) + "\n"
        atomic_write(docs, lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"))
        (out / f"{name}.yaml").write_text(_yaml(group, dataset, docs, max_new_tokens), encoding="utf-8")
        names.append(name)
    return names
