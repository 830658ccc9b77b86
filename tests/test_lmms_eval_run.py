"""End to end, offline: `lmms-eval --model crabplus --tasks crabplus_avsynth_ave` on a tiny I-LoRA checkpoint
trained one step on AVSynth. Its answers are `crabplus predict`'s (same greedy batches) and its score is
`crabplus eval`'s on those answers.

Integration tier, and slow (a minute or two: lmms-eval starts in its own process), so `make test` leaves it
to `make test-slow` and `.ci/run` runs it by name; skipped, saying why, where lmms-eval is not installed
(`bash scripts/setup.sh lmms`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
pytest.importorskip("lmms_eval", reason="needs lmms-eval (bash scripts/setup.sh lmms; requirements/lmms.txt)")

from crabplus.cli.main import main  # noqa: E402
from crabplus.schema.records import load_records  # noqa: E402
from crabplus.synth import SynthConfig, generate  # noqa: E402
from crabplus.train import train  # noqa: E402
from crabplus.train.run_config import load_config  # noqa: E402

NEW_TOKENS = 24
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
}


def crabplus_predict(records_file, checkpoint, output) -> dict[str, str]:
    """`crabplus predict`'s answers (id -> text) on a record file, batch 2."""
    assert (
        main(
            [
                "predict",
                str(records_file),
                "--checkpoint",
                str(checkpoint),
                "--output",
                str(output),
                "--max-new-tokens",
                str(NEW_TOKENS),
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    return {json.loads(line)["id"]: json.loads(line)["predict"] for line in output.read_text().splitlines()}


def logged_answers(out) -> dict[str, str]:
    samples = [
        json.loads(line) for f in out.rglob("*samples*.jsonl") for line in f.read_text().splitlines() if line.strip()
    ]
    return {s["crabplus_primary"]["id"]: s["crabplus_primary"]["predict"] for s in samples}


def test_lmms_eval_runs_the_crabplus_model_and_scores_like_crabplus_eval(tmp_path):
    root = tmp_path / "avsynth"
    generate(root, SynthConfig(per_dataset=6, image_size=56, datasets=["ave"]))
    cfg = load_config(
        None,
        [
            f"data.train=[{root}]",
            f"data.root={root}",
            "data.image_size=56",
            f"output_dir={tmp_path / 'run'}",
            "model.ilora.rank=4",
            "model.ilora.alpha=8",
            "train.batch_size=2",
            "train.max_steps=1",
        ],
    )
    checkpoint = train(cfg).checkpoint
    records_file = root / "ave" / "test.jsonl"
    assert (
        main(
            [
                "lmms-tasks",
                "--data",
                str(records_file),
                "--out",
                str(tmp_path / "tasks"),
                "--max-new-tokens",
                str(NEW_TOKENS),
            ]
        )
        == 0
    )

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "lmms_eval",
        "--model",
        "crabplus",
        "--model_args",
        f"checkpoint={checkpoint}",
        "--batch_size",
        "2",
        "--tasks",
        "crabplus_avsynth_ave",
        "--include_path",
        str(tmp_path / "tasks"),
        "--output_path",
        str(tmp_path / "out"),
        "--log_samples",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    log = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, log
    found = list((tmp_path / "out").rglob("*results*.json"))
    assert found, log  # lmms-eval exits 0 after logging an evaluation error
    results = json.loads(found[0].read_text())
    score = results["results"]["crabplus_avsynth_ave"]["crabplus_primary,none"]
    samples = [
        json.loads(line)
        for f in (tmp_path / "out").rglob("*samples*.jsonl")
        for line in f.read_text().splitlines()
        if line.strip()
    ]
    # each logged sample carries our process_results row (the record id and the generated text)
    answers = {s["crabplus_primary"]["id"]: s["crabplus_primary"]["predict"] for s in samples}
    assert all(s["filtered_resps"] in (a, [a]) for s, a in zip(samples, answers.values()))

    records = load_records(records_file)
    assert sorted(answers) == sorted(r.id for r in records)
    assert crabplus_predict(records_file, checkpoint, tmp_path / "predict.jsonl") == answers  # our predictor

    preds = tmp_path / "lmms-predictions.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "dataset": "ave", "predict": a}) + "\n" for i, a in answers.items()))
    out = tmp_path / "eval"
    assert main(["eval", "--predictions", str(preds), "--data", str(records_file), "--out", str(out)]) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert score == report["datasets"]["ave"]["primary"]


def test_two_processes_split_the_documents_and_rank_0_gathers_the_answers(small_avsynth, tmp_path):
    """`torchrun --nproc_per_node=2 -m lmms_eval --model crabplus ...` on the CPU (gloo): each process answers its
    share of the documents (lmms-eval splits them by the model's rank and world size), rank 0 logs them all, and
    they are `crabplus predict`'s answers (on the CPU they do not depend on the batch a document falls in)."""
    from helpers.predict import save_tiny_checkpoint

    checkpoint = save_tiny_checkpoint(tmp_path / "model")
    records_file = small_avsynth / "cremad" / "train.jsonl"  # 3 records: rank 0 gets 2, rank 1 gets 1
    assert (
        main(
            [
                "lmms-tasks",
                "--data",
                str(records_file),
                "--out",
                str(tmp_path / "tasks"),
                "--max-new-tokens",
                str(NEW_TOKENS),
            ]
        )
        == 0
    )
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "lmms_eval",
        "--model",
        "crabplus",
        "--model_args",
        f"checkpoint={checkpoint}",
        "--batch_size",
        "2",
        "--tasks",
        "crabplus_avsynth_cremad",
        "--include_path",
        str(tmp_path / "tasks"),
        "--output_path",
        str(tmp_path / "out"),
        "--log_samples",
    ]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    log = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, log
    assert "Running on rank 1" in log
    answers = logged_answers(tmp_path / "out")
    assert len(answers) == len(records_file.read_text().splitlines()) == 3
    assert crabplus_predict(records_file, checkpoint, tmp_path / "p.jsonl") == answers
