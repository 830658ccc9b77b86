"""benchmarks/matching_chains.py on a hand-made demo folder: each count checked against answers written to hit
or miss it (a second candidate described as the first; a right chain with the wrong choice)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "matching_chains", Path(__file__).parents[1] / "benchmarks" / "matching_chains.py"
)
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["matching_chains"] = bench  # its dataclasses look their module up by name
_SPEC.loader.exec_module(bench)

A2V_TARGET = (
    "I hear a mid hum, the sound of a green circle. Video 1 shows a red square and a blue triangle; video 2 shows a "
    "green circle and a magenta cross. <answer>2</answer>"
)
V2A_TARGET = (
    "I see a blue circle. Audio 1 is a piercing hum, the sound of a magenta circle; audio 2 is a shrill hum, the "
    "sound of a blue circle. <answer>2</answer>"
)


def _demo(root: Path, answers: dict[str, list[str]]) -> Path:
    rows = []
    for dataset, target in (("a2v", A2V_TARGET), ("v2a", V2A_TARGET)):
        (root / "data" / dataset).mkdir(parents=True)
        second = {"video2": "v2.mp4"} if dataset == "a2v" else {"audio2": "a2.wav"}
        records = [
            {
                "id": f"{dataset}-{i}",
                "dataset": dataset,
                "task": "matching",
                "split": "test",
                "media": {"video": "v.mp4", "audio": "a.wav", **second},
                "instruction": "Which of the two matches?",
                "answer": {"choice": 2},
                "target": target,
            }
            for i in range(len(answers[dataset]))
        ]
        (root / "data" / dataset / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        rows += [{"id": f"{dataset}-{i}", "dataset": dataset, "predict": a} for i, a in enumerate(answers[dataset])]
    (root / "eval").mkdir()
    (root / "eval" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_counts_descriptions_decisive_chains_and_choices_that_follow_them(tmp_path, capsys):
    run = _demo(
        tmp_path / "demo",
        {
            "a2v": [
                A2V_TARGET,  # all right
                A2V_TARGET.replace("video 2 shows a green circle and a magenta cross", "video 2 shows a red square"),
                A2V_TARGET.replace("<answer>2", "<answer>1"),  # the right chain, the other choice
                "no choice at all",
            ],
            "v2a": [
                V2A_TARGET.replace("<answer>2", "<answer>1"),
                V2A_TARGET.replace("the sound of a blue circle", "the sound of a magenta circle"),  # both alike
            ],
        },
    )
    a2v, v2a = bench.count_run(run, "a2v"), bench.count_run(run, "v2a")
    assert (a2v.answers, a2v.right, a2v.first_described, a2v.second_described) == (3, 2, 3, 2)
    assert (a2v.decisive_chains, a2v.choice_follows_chain) == (2, 1)  # the copied video 2 singles out none
    assert (v2a.answers, v2a.right, v2a.first_described, v2a.second_described) == (2, 1, 2, 1)
    assert (v2a.decisive_chains, v2a.choice_follows_chain) == (1, 0)
    assert bench.main([str(run), "--out", str(tmp_path / "chains.json")]) == 0
    saved = json.loads((tmp_path / "chains.json").read_text())
    assert [r["dataset"] for r in saved["rows"]] == ["a2v", "v2a"] and saved["rows"][0]["right"] == 2
    assert "| a2v | 3 | 2 | 3 | 2 | 2 | 1 |" in capsys.readouterr().out


def test_a_folder_that_is_not_a_demo_is_named_and_refused(tmp_path, capsys):
    assert bench.main([str(tmp_path)]) == 2
    assert "a2v/test.jsonl: no such file" in capsys.readouterr().err
