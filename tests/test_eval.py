"""``crabplus eval`` end to end on the hand-written fixtures (tests/fixtures/eval), with hand-computed scores,
and the errors a user can hit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from crabplus.cli import main
from crabplus.evaluate import EvalConfig, evaluate_predictions, load_predictions
from crabplus.schema.records import RecordError, default_root, load_records

FIX = Path(__file__).parent / "fixtures" / "eval"
RECORDS = FIX / "records.jsonl"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    code = main(
        [
            "eval",
            "--predictions",
            str(FIX / "predictions.jsonl"),
            "--data",
            str(RECORDS),
            "--out",
            str(out),
            "--no-meteor",
        ]
    )
    assert code == 0
    return out, json.loads((out / "report.json").read_text())


def _row(report, name):
    return report["datasets"][name]


def test_writes_report_markdown_and_plots(run):
    out, report = run
    assert report["files"] == {
        "scores_plot": "scores.png",
        "routing_plot": "routing.png",
        "markdown": "report.md",
        "json": "report.json",
    }
    for name in ("scores.png", "routing.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    md = (out / "report.md").read_text()
    assert "| dataset | task | headline metric | ours | release (kept) | chance | band | beyond | n | unparsed |" in md
    assert len(report["datasets"]) == 19
    for name in report["datasets"]:
        assert f"| {name} |" in md
    assert report["summary"] == {
        "records": 52,
        "predictions": 52,
        "scored": 52,
        "unparsed": 7,
        "without_prediction": 0,
        "unknown_predictions": 0,
    }


def test_classification_matching_and_qa_by_hand(run):
    _, rep = run
    ks = _row(rep, "ks")
    assert (ks["primary"], ks["n"], ks["unparsed"]) == (pytest.approx(1 / 3), 3, 1)
    assert ks["release"]["primary"] == pytest.approx(1 / 2) and ks["release"]["n"] == 2  # unparsed dropped
    assert _row(rep, "ucf")["primary"] == 1.0  # "applyeyemakeup" matches "ApplyEyeMakeup" after normalisation
    assert _row(rep, "meld")["primary"] == pytest.approx(2 / 3)
    assert (_row(rep, "mer24")["primary"], _row(rep, "mer24")["release"]["primary"]) == (0.5, 1.0)
    mafw = _row(rep, "mafw")
    assert mafw["primary_metric"] == "uar" and mafw["metrics"] == {"uar": pytest.approx(5 / 6), "war": 0.75}
    assert _row(rep, "dfew")["metrics"]["uar"] == pytest.approx(2 / 3)
    assert _row(rep, "a2v")["primary"] == pytest.approx(2 / 3)  # "one" is candidate 1, the answer was 2
    assert _row(rep, "v2a")["primary"] == 0.5
    avqa = _row(rep, "avqa")["metrics"]  # "2" matches "two"; "acoustic guitar" matches "acoustic_guitar"
    assert avqa["overall"] == 0.5 and avqa["Audio"] == 1.0 and avqa["Visual"] == 0.0 and avqa["Audio-Visual"] == 0.5
    thu = _row(rep, "avqa_thu")
    assert thu["primary"] == pytest.approx(1 / 3) and thu["unparsed"] == 1 and thu["metrics"]["type/Which"] == 1.0


def test_localisation_by_hand(run):
    _, rep = run
    ave = _row(rep, "ave")  # 9 of 10 segments right, and an unparsed video with all 10 wrong
    assert (ave["primary"], ave["release"]["primary"]) == (pytest.approx(0.45), pytest.approx(0.9))
    # UnAV: both videos' dog events are first in their answers (score 1, tied). At t >= 0.8 the block is one TP
    # (tIoU 1) and one FP (tIoU 3/4): AP 1/2 or 1/4 by order, tie-averaged 3/8; car has tIoU 3/4 (AP 0 there)
    unav = _row(rep, "unav")["metrics"]
    assert unav["avg_map"] == pytest.approx(7.375 / 9) and unav["map@0.5"] == 1.0
    assert unav["map@0.8"] == pytest.approx(0.1875)
    avvp = _row(rep, "avvp")  # one perfect video, one unparsed (scored 0 although an empty answer would score 1)
    assert set(avvp["metrics"].values()) == {0.5} and avvp["release"]["primary"] == 1.0
    assert avvp["primary_metric"] == "segment_type"


def test_captioning_scored_and_meteor_switch(run):
    _, rep = run
    cap = _row(rep, "avcap")
    assert set(cap["metrics"]) == {"bleu4", "rouge_l", "cider"} and cap["unparsed"] == 1
    assert cap["primary"] > cap["chance"]["primary"] and cap["release"]["primary"] > cap["primary"]


def test_segmentation_and_grounding(run):
    _, rep = run
    s4 = _row(rep, "s4")  # s4-0 exact prompt (GrabCut recovers the drawn object), s4-1 wrong place, s4-2 unparsed
    assert 0.32 < s4["primary"] <= 1 / 3 and s4["metrics"]["box_miou"] == pytest.approx(1 / 3)
    assert s4["metrics"]["label_accuracy"] == pytest.approx(1 / 3) and s4["release"]["n"] == 2
    ms3 = _row(rep, "ms3")  # one frame from a video (media.video + frame_second)
    assert ms3["primary"] > 0.95 and ms3["metrics"]["box_miou"] == 1.0
    assert ms3["release"]["n"] == 1 and any("stricter box/point regex" in n for n in ms3["notes"])
    ref = _row(rep, "ref_avs")
    assert ref["metrics"]["miou"] > 0.95 and ref["metrics"]["exists_accuracy"] == pytest.approx(4 / 5)
    # null samples: clipB said "false" on its 2 frames; clipC said "true" with a box on a 16 x 16 object of its one
    # 64 x 64 frame. One 4-sample batch pools the pixels: S = sqrt(256 / (3 * 4096)); per sample (0 + 1/4) / 2
    assert ref["metrics"]["null_s"] == pytest.approx(np.sqrt(256 / (3 * 4096)), abs=0.02)
    assert ref["metrics"]["null_s_per_sample"] == pytest.approx(0.125, abs=0.02)
    assert set(ref["headline"]) == {"miou", "null_s"} and ref["headline"]["null_s"]["higher_is_better"] is False
    arig = _row(rep, "arig")["metrics"]  # an exact box, and one clipped to [126, 42, 224, 154]: IoU 7840 / 17248
    assert arig["miou"] == pytest.approx((1 + 7840 / 17248) / 2) and arig["success@0.5"] == 0.5
    assert arig["label_accuracy"] == 1.0
    assert rep["config"]["segmenter"] == "grabcut"


def test_chance_baseline_everywhere_and_seeded(run):
    _, rep = run
    assert rep["config"]["chance_draws"] == EvalConfig().chance_draws == 20
    assert rep["config"]["mask_chance_draws"] == EvalConfig().mask_chance_draws == 5
    for row in rep["datasets"].values():
        chance = row["chance"]
        assert chance["primary"] is not None and chance["n"] == row["n"]
        assert chance["draws"] == (5 if row["task"] == "segmentation" else 20), row["dataset"]
        assert chance["band"] is not None and chance["band_quantile"] == 0.95
        better = chance["band"] >= chance["primary"] if row["higher_is_better"] else chance["band"] <= chance["primary"]
        assert better, row["dataset"]  # the band is the far edge of the draws, not below their mean
        beyond = row["primary"] > chance["band"] if row["higher_is_better"] else row["primary"] < chance["band"]
        assert row["beyond_chance"] is beyond, row["dataset"]
    assert 0.0 <= _row(rep, "a2v")["chance"]["primary"] <= 1.0


def test_chance_summary_is_the_mean_of_the_draws_and_their_far_percentile():
    from crabplus.evaluate.chance import beyond_chance, chance_summary
    from crabplus.tasks.families import Score

    draws = [Score({"accuracy": v, "extra": 1.0}, "accuracy", 25) for v in np.linspace(0.2, 0.6, 21)]
    summary = chance_summary(draws)
    assert summary["primary"] == pytest.approx(0.4) and summary["metrics"] == {
        "accuracy": pytest.approx(0.4),
        "extra": 1.0,
    }
    assert summary["band"] == pytest.approx(0.58) and summary["draws"] == 21  # 95 % of the way from 0.2 to 0.6
    assert summary["bands"] == {"accuracy": pytest.approx(0.58), "extra": 1.0}
    assert beyond_chance(0.59, summary) and not beyond_chance(0.58, summary)
    assert beyond_chance(None, summary) is None
    low = chance_summary([Score({"null_s": v}, "null_s", 5) for v in np.linspace(0.2, 0.6, 21)])
    assert low["band"] == pytest.approx(0.22)  # lower is better: the 5th percentile
    assert beyond_chance(0.21, low) and not beyond_chance(0.3, low)  # lower is better for null_s
    assert beyond_chance(1.5, summary, "extra") and not beyond_chance(1.0, summary, "extra")


def test_routing_summary_per_task(run):
    _, rep = run
    routing = rep["routing"]
    assert routing["num_heads"] == 3
    assert routing["layers"] == [
        "model.layers.0.self_attn.q_proj",
        "model.layers.2.mlp.down_proj",
        "model.layers.10.mlp.down_proj",
    ]
    assert {t: v["n"] for t, v in routing["tasks"].items()} == {"action": 2, "localization": 1, "segmentation": 1}
    assert routing["tasks"]["action"]["mean"][0] == pytest.approx([0.6, 0.3, 0.1])


def test_python_api_without_files_or_routing(tmp_path):
    records = [r for r in load_records(RECORDS) if r.dataset in ("ks", "arig")]
    preds = [
        {"id": r.id, "dataset": r.dataset, "predict": p.predict}
        for r in records
        for p in load_predictions(FIX / "predictions.jsonl")
        if p.id == r.id
    ]
    preds.append({"id": "not-a-record", "dataset": "ks", "predict": "<answer>x</answer>"})
    report = evaluate_predictions(records, preds, FIX, config=EvalConfig(meteor=False))
    assert set(report.datasets) == {"ks", "arig"} and report.routing is None
    assert report.summary.unknown_predictions == 1 and "not-a-record" in report.notes[0]
    assert report.files is None and "files" not in report.to_json() and not list(tmp_path.iterdir())
    assert report.config.segmenter is None  # ARIG boxes need no masks


def _write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_chance_draws_must_be_positive(tmp_path, capsys):
    code = main(
        [
            "eval",
            "--predictions",
            str(FIX / "predictions.jsonl"),
            "--data",
            str(RECORDS),
            "--out",
            str(tmp_path),
            "--chance-draws",
            "0",
        ]
    )
    assert code == 2 and "chance_draws and mask_chance_draws must be >= 1, got 0 and 5" in capsys.readouterr().err


def test_bad_prediction_files_name_the_line_and_field(tmp_path, capsys):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": "ks-0", "dataset": "ks", "predict": "x"}\n{not json\n')
    assert main(["eval", "--predictions", str(bad), "--data", str(RECORDS), "--out", str(tmp_path)]) == 1
    assert f"{bad}:2" in capsys.readouterr().err
    _write(bad, [{"id": "ks-0", "dataset": "ks", "predict": 3}])
    assert main(["eval", "--predictions", str(bad), "--data", str(RECORDS), "--out", str(tmp_path)]) == 1
    assert "field 'predict'" in capsys.readouterr().err
    _write(bad, [{"id": "ks-0", "dataset": "meld", "predict": "x"}])
    assert main(["eval", "--predictions", str(bad), "--data", str(RECORDS), "--out", str(tmp_path)]) == 1
    assert "record 'ks-0', field 'dataset'" in capsys.readouterr().err
    _write(bad, [{"id": "zzz", "dataset": "ks", "predict": "x"}])
    assert main(["eval", "--predictions", str(bad), "--data", str(RECORDS), "--out", str(tmp_path)]) == 1
    assert "none of the 1 prediction ids" in capsys.readouterr().err
    _write(bad, [{"id": "ks-0", "dataset": "ks", "predict": "x", "routing": {"l0": [0.5, -1]}}])
    assert main(["eval", "--predictions", str(bad), "--data", str(RECORDS), "--out", str(tmp_path)]) == 1
    assert "field 'routing.l0'" in capsys.readouterr().err
    _write(
        bad,
        [
            {"id": "ks-0", "dataset": "ks", "predict": "x", "routing": {"l0": [0.5, 0.5]}},
            {"id": "ks-1", "dataset": "ks", "predict": "x", "routing": {"l0": [0.2, 0.3, 0.5]}},
        ],
    )
    assert main(["eval", "--predictions", str(bad), "--data", str(RECORDS), "--out", str(tmp_path)]) == 1
    assert "record 'ks-1', field 'routing': routing has 3 heads, expected 2" in capsys.readouterr().err


def test_sam2_without_checkpoint_is_a_usage_error(tmp_path, capsys):
    code = main(
        [
            "eval",
            "--predictions",
            str(FIX / "predictions.jsonl"),
            "--data",
            str(RECORDS),
            "--out",
            str(tmp_path),
            "--segmenter",
            "sam2",
        ]
    )
    assert code == 2 and "segmenter=sam2 needs sam2_checkpoint" in capsys.readouterr().err


def test_missing_mask_names_record_and_field(tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(FIX / "media", data / "media")
    (data / "media" / "s4_1_mask.png").unlink()
    lines = [line for line in RECORDS.read_text().splitlines() if '"dataset": "s4"' in line]
    (data / "records.jsonl").write_text("\n".join(lines) + "\n")
    code = main(
        [
            "eval",
            "--predictions",
            str(FIX / "predictions.jsonl"),
            "--data",
            str(data / "records.jsonl"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "record 's4-1', field 'answer.mask'" in err and "s4_1_mask.png" in err


def test_default_root_is_the_nearest_manifest_folder(tmp_path):
    (tmp_path / "world" / "records").mkdir(parents=True)
    (tmp_path / "world" / "manifest.json").write_text("{}")
    assert default_root(tmp_path / "world" / "records" / "test.jsonl") == (tmp_path / "world").resolve()
    (tmp_path / "plain").mkdir()
    assert default_root(tmp_path / "plain" / "r.jsonl") == (tmp_path / "plain").resolve()
    # a perception corpus is the root of its own media, so one run can train on two corpora without data.root
    (tmp_path / "corpus" / "pt_still").mkdir(parents=True)
    (tmp_path / "corpus" / "corpus.json").write_text("{}")
    assert default_root(tmp_path / "corpus" / "pt_still" / "train.jsonl") == (tmp_path / "corpus").resolve()
    with pytest.raises(RecordError):
        evaluate_predictions(load_records(RECORDS)[:1], [{"id": "ks-0", "dataset": "meld", "predict": ""}])


def test_training_finds_the_data_root_by_the_same_rule(small_avsynth):
    """One data-root rule: a training run given an AVSynth record file and no data.root resolves its media where
    evaluation and prediction do (the world's folder, not the file's)."""
    from crabplus.data.config import DataConfig
    from crabplus.train.config import TrainConfig
    from crabplus.train.data import load_sources

    file = small_avsynth / "s4" / "train.jsonl"
    (source,) = load_sources(DataConfig(train=[str(file)]), TrainConfig())
    assert source.root == default_root(file) == small_avsynth.resolve()
    assert all((source.root / r.media.image).is_file() for r in source.records)


def test_chance_predictor_is_seeded_and_draws_from_the_records():
    from crabplus.evaluate.chance import chance_predictions
    from crabplus.schema.registry import DATASETS
    from crabplus.tasks.families import family_of

    records = load_records(RECORDS)
    for name in ("ks", "a2v", "avqa_thu", "ave", "avvp", "arig", "ref_avs", "avcap"):
        recs = [r for r in records if r.dataset == name]
        first = chance_predictions(family_of(DATASETS[name]), recs, seed=1)
        assert first == chance_predictions(family_of(DATASETS[name]), recs, seed=1)
        others = [chance_predictions(family_of(DATASETS[name]), recs, seed=1, draw=d) for d in range(1, 8)]
        assert any(o != first for o in others), name  # draws are independent
        assert all(p.parsed for p in first)
        if name == "ks":
            assert {p.label for p in first} <= {r.answer.label for r in recs}
        if name == "a2v":
            assert {p.choice for p in first} <= {1, 2}
        if name == "ave":
            assert all(len(p.events) == 1 and p.events[0].label in ("Church bell", "Dog bark") for p in first)
        if name == "arig":  # another record's box: the box prior, never the record's own answer
            assert [p.box for p in first] == [recs[1].answer.box, recs[0].answer.box]
        if name == "avcap":
            assert all(p.text != r.answer.text for p, r in zip(first, recs))


def test_answers_that_point_at_one_place_whatever_the_frame_are_noted():
    from crabplus.evaluate.report import _narrow_prompt_note
    from crabplus.tasks.parsers import Prediction

    records = [r for r in load_records(RECORDS) if r.dataset == "s4" and r.answer.box is not None]
    boxes = [r.answer.box for r in records]
    assert len(boxes) >= 3
    fixed = [Prediction(parsed=True, box=[120, 120, 120, 120], points=[[142 + i % 2, 170]]) for i in range(len(boxes))]
    note = _narrow_prompt_note(records, fixed)
    assert note and note[0].startswith("the answers point at nearly the same place in every frame (spread 0 px")
    right = [Prediction(parsed=True, box=list(b), points=None) for b in boxes]  # where the objects are
    assert _narrow_prompt_note(records, right) == []
    assert _narrow_prompt_note(records, fixed[:2]) == []  # too few answers to say


def test_boxes_a_few_pixels_wide_or_tall_are_counted_in_a_note():
    from crabplus.evaluate.report import _thin_box_note
    from crabplus.tasks.parsers import Prediction

    preds = [
        Prediction(parsed=True, box=[148, 140, 148, 180]),  # no width
        Prediction(parsed=True, box=[12, 100, 108, 108]),  # 8 px tall
        Prediction(parsed=True, box=[56, 64, 132, 136]),  # an object's size
        Prediction(parsed=False),
    ]
    assert _thin_box_note(preds) == ["2 of 3 boxes are under 10 px wide or tall: the masks grown from them are slivers"]
    assert _thin_box_note(preds[2:]) == []
