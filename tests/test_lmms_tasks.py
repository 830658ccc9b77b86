"""The lmms-eval tasks' functions are crabplus's own: on the evaluation fixtures, the aggregation of each task
equals `crabplus eval`'s primary score for that dataset, and the written task folder is offline (local files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crabplus.cli.main import main
from crabplus.lmms.tasks import METRIC, aggregate, doc_to_text, doc_to_visual, process_results, score_rows
from crabplus.schema.registry import RELEASE_DATASETS

FIX = Path(__file__).parent / "fixtures" / "eval"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("lmms")
    assert (
        main(
            [
                "lmms-tasks",
                "--data",
                str(FIX / "records.jsonl"),
                "--out",
                str(out / "tasks"),
                "--group",
                "crabplus_avuie",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "eval",
                "--predictions",
                str(FIX / "predictions.jsonl"),
                "--data",
                str(FIX / "records.jsonl"),
                "--out",
                str(out / "eval"),
                "--no-meteor",
            ]
        )
        == 0
    )
    report = json.loads((out / "eval" / "report.json").read_text())
    predictions = {
        json.loads(line)["id"]: json.loads(line)["predict"]
        for line in (FIX / "predictions.jsonl").read_text().splitlines()
        if line.strip()
    }
    return out / "tasks", report, predictions


def task_rows(tasks: Path, dataset: str, predictions: dict) -> list[dict]:
    docs = [json.loads(line) for line in (tasks / f"crabplus_avuie_{dataset}.jsonl").read_text().splitlines()]
    return [process_results(doc, [predictions[doc["id"]]])[METRIC] for doc in docs if doc["id"] in predictions]


def test_one_task_per_dataset_with_local_documents(written):
    tasks, _, _ = written
    yamls = sorted(p.stem for p in tasks.glob("*.yaml"))
    assert yamls == sorted(f"crabplus_avuie_{d}" for d in RELEASE_DATASETS)  # the 19 task flags
    text = (tasks / "crabplus_avuie_ave.yaml").read_text()
    assert "dataset_path: json" in text and "tag: crabplus_avuie" in text
    assert str(tasks / "crabplus_avuie_ave.jsonl") in text
    doc = json.loads((tasks / "crabplus_avuie_s4.jsonl").read_text().splitlines()[0])
    assert doc_to_text(doc).startswith("Please identify the category")
    assert all(Path(p).is_absolute() for p in doc_to_visual(doc))
    assert (tasks / "crabplus_lmms_utils.py").is_file()


@pytest.mark.parametrize("dataset", [d for d in RELEASE_DATASETS if d != "avcap"])
def test_aggregation_equals_crabplus_eval(written, dataset):
    tasks, report, predictions = written
    rows = task_rows(tasks, dataset, predictions)
    if dataset not in report["datasets"]:
        pytest.skip(f"no prediction for {dataset} in the fixture")
    assert aggregate(rows) == report["datasets"][dataset]["primary"]


def test_caption_scores_equal_crabplus_eval_without_meteor(written):
    tasks, report, predictions = written
    rows = task_rows(tasks, "avcap", predictions)
    assert score_rows(rows, meteor=False)["avcap"].metrics == report["datasets"]["avcap"]["metrics"]


def test_a_foreign_task_asks_its_context_about_the_video(tmp_path):
    pytest.importorskip("lmms_eval", reason="needs lmms-eval (bash scripts/setup.sh lmms)")
    from crabplus.lmms.model import foreign_record

    clip = FIX / "media" / "ms3_video.mp4"
    record, root = foreign_record("Which instrument plays first?", [str(clip)])
    assert record.instruction == "Which instrument plays first?" and (root / record.media.video) == clip
    with pytest.raises(NotImplementedError, match="decoded audio"):
        foreign_record("Q?", [str(clip), {"array": [0.0], "sampling_rate": 16000}])
    with pytest.raises(NotImplementedError, match="video file"):
        foreign_record("Q?", [str(FIX / "records.jsonl")])
