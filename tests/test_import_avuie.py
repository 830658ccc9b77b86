"""``crabplus data import-avuie``: the release fixtures (all 19 task flags, with the release's quirks)
become valid unified records; every record read is written or skipped under a named reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import pytest
from helpers.importdata import BENCH, build_root, data_root, gt_files, media_templates  # noqa: F401
from PIL import Image

from crabplus.cli.main import main
from crabplus.data.importers import import_avuie
from crabplus.schema.records import load_records

# (task, split) -> (read, written, {reason: n}); without benchmark ground truth
EXPECTED = {
    ("ks", "train"): (2, 1, {"missing media": 1}),
    ("ks", "test"): (3, 2, {"missing field": 1}),
    ("ucf", "train"): (1, 1, {}),
    ("ucf", "test"): (2, 2, {}),
    ("meld", "train"): (1, 1, {}),
    ("meld", "test"): (2, 2, {}),
    ("mer24", "train"): (1, 1, {}),
    ("cremad", "train"): (1, 1, {}),
    ("cremad", "test"): (2, 2, {}),
    ("mafw", "train"): (1, 1, {}),
    ("mafw", "test"): (2, 2, {}),
    ("dfew", "train"): (1, 1, {}),
    ("dfew", "test"): (2, 2, {}),
    ("a2v", "train"): (1, 1, {}),
    ("a2v", "test"): (2, 2, {}),
    ("v2a", "train"): (1, 1, {}),
    ("v2a", "test"): (2, 2, {}),
    ("avqa", "train"): (1, 1, {}),
    ("avqa", "test"): (3, 3, {}),
    ("avqa_thu", "train"): (1, 1, {}),
    ("avqa_thu", "test"): (3, 3, {}),
    ("ave", "train"): (1, 1, {}),
    ("ave", "test"): (3, 2, {"invalid field": 1}),
    ("unav", "train"): (2, 1, {"unparsable target": 1}),
    ("avvp", "train"): (1, 1, {}),
    ("avvp", "test"): (2, 1, {"unparsable target": 1}),
    ("avcap", "train"): (2, 2, {}),
    ("s4", "train"): (1, 1, {}),
    ("s4", "test"): (2, 2, {}),
    ("ms3", "train"): (1, 1, {}),
    ("ms3", "test"): (2, 1, {"empty ground-truth mask": 1}),
    ("ref_avs", "train"): (1, 1, {}),
    ("ref_avs", "test"): (3, 3, {}),
    ("arig", "train"): (1, 1, {}),
    ("arig", "test"): (2, 2, {}),
}


@pytest.fixture(scope="module")
def imported(data_root, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("out")
    report = import_avuie(data_root, out)
    records = {}
    for path in sorted(out.glob("*/*.jsonl")):
        for rec in load_records(path):  # the written files load and validate
            records[rec.id] = rec
    return report, out, records


def test_every_record_is_written_or_skipped_with_a_reason(imported):
    report, out, _ = imported
    got = {(f.task, f.split): (f.read, f.written, f.skipped) for f in report.files if f.status == "ok"}
    assert got == EXPECTED
    # the three tasks the release ships no test file for are reported as such
    assert {(f.task, f.split) for f in report.files if f.status == "not in release"} == {
        ("mer24", "test"),
        ("unav", "test"),
        ("avcap", "test"),
    }
    saved = json.loads((out / "import_report.json").read_text())
    assert saved["totals"]["read"] == saved["totals"]["written"] + saved["totals"]["skipped_total"] == 59
    assert saved["tasks"]["ks"]["test"]["examples"]["missing field"] == [
        "ks-test-000002: field 'action' is missing or empty"
    ]
    assert "AVUIE_2/ks/video/missing_clip_000010.mp4" in saved["tasks"]["ks"]["train"]["examples"]["missing media"][0]
    assert "ave-test-000002" in saved["tasks"]["ave"]["test"]["examples"]["invalid field"][0]
    assert "-1kRBS8Pqzs" not in json.dumps(saved["tasks"]["unav"]["train"]["output"])
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.jsonl")) == sorted(
        f"{t}/{s}.jsonl" for (t, s), (_, w, _) in EXPECTED.items() if w
    )


def test_validate_finds_every_media_file(imported, data_root):  # noqa: F811
    _, out, _ = imported
    assert main(["data", "validate", str(out), "--root", str(data_root)]) == 0


def test_classification_and_matching_fields(imported):
    *_, r = imported
    ks = r["ks-train-000000"]
    assert ks.media.video == "AVUIE_2/ks/video/-3Gx9Q7mvRo_000030.mp4"
    assert ks.media.audio == "AVUIE_2/ks/audio/-3Gx9Q7mvRo_000030.wav"
    assert ks.answer.label == "playing drums"
    assert ks.target.startswith("Sharp rhythmic hits") and ks.target.endswith("<answer>playing drums</answer>")
    assert r["ks-test-000001"].target == "<answer>tapping pen</answer>"  # the release's test GT form
    # ucf: target from new_label, class lower-cased, media in class sub-folders
    assert r["ucf-train-000000"].target.endswith("<answer>applyeyemakeup</answer>")
    assert r["ucf-test-000000"].answer.label == "playingcello"
    assert r["ucf-test-000000"].media.video == "AVUIE_2/ucf/video/PlayingCello/v_PlayingCello_g01_c02.avi"
    assert r["meld-test-000000"].answer.label == "joy"  # read from "Emotion"
    assert r["meld-test-000000"].media.audio == "AVUIE_2/meld/audio/test/dia3_utt1.mp3"
    assert r["mer24-train-000000"].answer.label == "worried"  # read from "discrete"
    assert r["dfew-test-000001"].answer.label == "fear"
    a2v = r["a2v-test-000000"]
    assert (a2v.media.video, a2v.media.video2, a2v.media.audio) == (
        "AVUIE_2/a2v/video/0a2Vn7JeFm8_000010.mp4",
        "AVUIE_2/a2v/video/0b7Gd2tXc1Q_000020.mp4",
        "AVUIE_2/a2v/audio/0b7Gd2tXc1Q_000020.mp3",
    )
    assert a2v.answer.choice == 2 and a2v.target == "<answer>2</answer>"
    assert r["a2v-test-000001"].answer.choice == 1  # "1" as a string in the release
    assert a2v.meta["video2_event"] == "church bell ringing"
    v2a = r["v2a-test-000001"]
    assert (v2a.media.audio, v2a.media.audio2) == (
        "AVUIE_2/v2a/audio/1Fu0Ce2Ej5T_000030.mp3",
        "AVUIE_2/v2a/audio/1Et4Bc6Di9S_000050.mp3",
    )
    assert v2a.answer.choice == 2


def test_qa_fields(imported):
    *_, r = imported
    q = r["avqa-test-000000"]
    assert q.instruction == "Please answer this question: Is the violin in the video always playing?"
    assert q.answer.text == "yes" and q.meta["question_id"] == 40
    assert q.meta["type"] == ["Audio-Visual", "Existential"]  # the JSON string decoded
    assert r["avqa-test-000001"].meta["type"] == ["Visual", "Location"]
    t0, t1, t2 = (r[f"avqa_thu-test-00000{i}"] for i in range(3))
    assert (t0.answer.choice, t0.answer.options) == (1, ["cat", "dog", "sheep", "cattle"])
    assert t0.target == "<answer>dog</answer>"
    assert t0.instruction.endswith("video?, options:['cat', 'dog', 'sheep', 'cattle']")
    assert (t1.answer.choice, t1.answer.options[2]) == (2, "in a forest")  # "2" and a list given as a string
    assert t1.instruction.endswith("options:['in the kitchen', 'on the street', 'in a forest', 'at the beach']")
    assert t2.answer.choice == 2  # the answer given as the option's text
    assert t0.meta["question_relation"] == "Audio"


def test_localization_and_caption_fields(imported):
    *_, r = imported
    ave = r["ave-test-000001"]
    assert [(e.label, e.start, e.end) for e in ave.answer.events] == [("Violin, fiddle", 2.0, 7.0)]
    assert ave.target == "<event>Violin, fiddle</event><range>2,7</range>"
    assert r["ave-train-000000"].target.endswith("<event>Church bell</event><range>6,8</range>")
    unav = r["unav-train-000000"]
    assert [(e.label, e.start, e.end) for e in unav.answer.events] == [
        ("dog barking", 1.5, 6.0),
        ("man speaking", 4.0, 9.5),
    ]
    avvp = r["avvp-test-000000"]
    assert sorted((e.label, e.start, e.end) for e in avvp.answer.audio_events) == [("Blender", 8, 10), ("Speech", 0, 3)]
    assert [(e.label, e.start, e.end) for e in avvp.answer.visual_events] == [("Blender", 8, 10)]
    assert avvp.meta["filename"] == "KSRjje7GH44_60_70"
    cap = r["avcap-train-000000"]
    assert cap.answer.text == cap.target and cap.target.startswith("A man strums")


def test_image_task_fields(imported):
    *_, r = imported
    s4_train, s4_test = r["s4-train-000000"], r["s4-test-000000"]
    # train reads image_path, test visual_path; both join directly under AVUIE_2/<task>/
    assert s4_train.media.image == "AVUIE_2/s4/AVS/v1s/-0cKQbXYGQs_0_5/frames/0.jpg"
    assert s4_test.media.image == "AVUIE_2/s4/AVS/v1s/-2eNmXIGvWM_10_15/frames/3.jpg"
    assert s4_test.media.audio == "AVUIE_2/s4/AVS/v1s/-2eNmXIGvWM_10_15/audio.wav"
    assert s4_train.media.audio_window_index == 0 and s4_test.media.audio_window_index == 3
    assert (s4_train.answer.label, s4_train.answer.box) == ("dog", [60, 50, 150, 170])  # parsed from the target
    assert s4_train.answer.points == [[100, 110], [80, 90], [130, 140]]
    # test: box + points from the ground-truth mask (mode '1' file), mask path per the release (docs/evaluation.md)
    assert s4_test.answer.mask == "AVUIE_2/s4/AVS/v1s/-2eNmXIGvWM_10_15/labels_rgb/3.png"
    assert s4_test.answer.box == [30, 40, 191, 201]
    x1, y1, x2, y2 = s4_test.answer.box
    assert len(s4_test.answer.points) == 3 and all(x1 <= x < x2 and y1 <= y < y2 for x, y in s4_test.answer.points)
    assert s4_test.target.startswith("<answer>guitar</answer> [30,40,191,201] [")
    # a 640x360 colour-map mask, nearest-resized to 224x224
    x1, y1, x2, y2 = r["s4-test-000001"].answer.box
    assert abs(x1 - 200 * 224 / 640) <= 1 and abs(x2 - 629 * 224 / 640) <= 1 and abs(y2 - 162 * 224 / 360) <= 1
    # ms3: a palette mask; audio window = frame_idx
    ms3 = r["ms3-test-000000"]
    assert ms3.answer.box == [100, 20, 220, 121] and ms3.media.audio_window_index == 0
    assert r["ms3-train-000000"].media.audio_window_index == 2
    arig_train, arig_test = r["arig-train-000000"], r["arig-test-000001"]
    assert (arig_train.answer.label, arig_train.answer.box) == ("dog", [60, 50, 150, 170])
    assert arig_train.media.audio_window_index is None  # arig keeps the whole clip
    assert arig_train.media.image == "AVUIE_2/arig/AVS/v1s/-0cKQbXYGQs_0_5/frames/2.jpg"
    assert (arig_test.answer.label, arig_test.answer.box) == ("helicopter", [100, 20, 220, 91])
    assert arig_test.target == "The sounding object is helicopter. Its coordinates are <obj>(100,20)(220,91)</obj>."


def test_ref_avs_fields(imported):
    *_, r = imported
    train = r["ref_avs-train-000000"]
    assert train.answer.exists is True and train.media.audio_window_index == 3
    assert train.instruction.startswith(
        "Please analyze the video frame and audio to find the object described as "
        "<des>the object having white and gray fur.</des>."
    )
    assert train.answer.mask == "AVUIE_2/ref_avs/REFAVS/gt_mask/--KCIeTv6PM_14000_24000/fid_0/00003.png"
    seen, unseen, null = (r[f"ref_avs-test-00000{i}"] for i in range(3))
    assert seen.answer.mask == "AVUIE_2/ref_avs/REFAVS/gt_mask/-0Nn4cKWLxs_0_10000/fid_1/00005.png"
    assert seen.media.audio_window_index == 5 and seen.meta["split"] == "test_s"
    assert (seen.answer.exists, seen.answer.label, seen.answer.box) == (True, "violin", [10, 50, 110, 200])
    assert "<des>the instrument being bowed on the left.</des>" in seen.instruction
    assert unseen.answer.label == "lion" and unseen.meta["split"] == "test_u"
    assert null.answer.exists is False and null.answer.box is None
    assert null.target == "<answer>false</answer> The object is absent."


def test_keep_missing_media_and_subset(tmp_path, media_templates):  # noqa: F811
    root = build_root(tmp_path / "root", media_templates)
    report = import_avuie(root, tmp_path / "out", tasks="ks", splits=["train"], skip_missing_media=False)
    assert [(f.task, f.split) for f in report.files] == [("ks", "train")]
    (ks,) = report.files
    assert (ks.read, ks.written, ks.kept_missing_media, ks.skipped) == (2, 2, 1, {})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["import_report.json", "ks"]


def test_ground_truth_merge(data_root, tmp_path):  # noqa: F811
    report = import_avuie(data_root, tmp_path, tasks="ave,avvp,avqa,unav,ref_avs", ground_truth=gt_files())
    rep = {(f.task, f.split): f for f in report.files}
    # AVE: the Annotations.txt range wins over the release's (2-7 -> 2-8), counted as changed
    assert rep["ave", "test"].ground_truth | {"file": None} == {"file": None, "merged": 1, "changed": 1, "not_found": 0}
    ave = {r.id: r for r in load_records(tmp_path / "ave" / "test.jsonl")}
    assert [(e.start, e.end) for e in ave["ave-test-000001"].answer.events] == [(2.0, 8.0)]
    # AVVP: per-modality events from the CSVs; the record whose 'event' text had none is recovered,
    # and a video without visual rows has no visual events
    assert (rep["avvp", "test"].written, rep["avvp", "test"].skipped) == (2, {})
    avvp = {r.id: r for r in load_records(tmp_path / "avvp" / "test.jsonl")}
    rec = avvp["avvp-test-000001"]
    assert [(e.label, e.start, e.end) for e in rec.answer.audio_events] == [
        ("Dog", 0, 4),
        ("Speech", 2, 8),
        ("Dog", 6, 10),
    ]
    assert rec.answer.visual_events == [] and rec.target.startswith("<audio_event>Dog,(0 4)</audio_event>")
    # UnAV-100: the unparsable train target is recovered; the test subset becomes test records
    assert (rep["unav", "train"].written, rep["unav", "test"].written) == (2, 2)
    unav = load_records(tmp_path / "unav" / "test.jsonl")
    assert [len(r.answer.events) for r in unav] == [2, 2]  # the near-duplicate church bell collapsed
    assert unav[0].media.video == "AVUIE_2/unav/video/0Z9yWc3jqEs.mp4"
    # MUSIC-AVQA: question types from the benchmark JSON
    avqa = load_records(tmp_path / "avqa" / "test.jsonl")
    assert [r.meta["type"] for r in avqa] == [
        ["Audio-Visual", "Existential"],
        ["Visual", "Location"],
        ["Audio-Visual", "Counting"],
    ]
    assert rep["ref_avs", "test"].ground_truth["merged"] == 3
    assert any("TODO" in n for n in report.notes) and any("duplicate" in n for n in report.notes)


def test_cli(data_root, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "out"
    argv = [
        "data",
        "import-avuie",
        str(data_root),
        "--out",
        str(out),
        "--tasks",
        "ks,ave",
        "--ave-annotations",
        str(BENCH / "ave" / "Annotations.txt"),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "missing media: 1" in printed and "Annotations.txt" in printed
    saved = json.loads((out / "import_report.json").read_text())
    assert set(saved["tasks"]) == {"ks", "ave"}
    assert main(argv + ["--strict"]) == 1  # some records were skipped
    assert main(["data", "import-avuie", str(data_root), "--out", str(out), "--tasks", "ks,nope"]) == 2
    assert "unknown task flag" in capsys.readouterr().err
    assert main(["data", "import-avuie", str(tmp_path), "--out", str(out)]) == 1
    assert "no AVUIE_2/ folder" in capsys.readouterr().err
    assert main(["data", "import-avuie", str(data_root), "--out", str(out), "--avvp-eval-audio", "x.csv"]) == 2


def test_a_broken_release_file_is_reported_and_the_rest_imported(tmp_path):
    root = tmp_path / "root"
    (root / "AVUIE_2" / "ks").mkdir(parents=True)
    shutil.copytree(Path(__file__).parent / "fixtures" / "avuie" / "AVUIE_2" / "cremad", root / "AVUIE_2" / "cremad")
    (root / "AVUIE_2" / "ks" / "test.json").write_text('[{"video_path": "a.mp4",', encoding="utf-8")
    (root / "AVUIE_2" / "ks" / "train.json").write_text(
        '[3, {"video_path": "/etc/x.mp4", "audio_path": "a.wav", "action": "x", "label": "<answer>x</answer>"}]'
    )
    report = import_avuie(root, tmp_path / "out", tasks=["ks", "cremad"], skip_missing_media=False)
    rep = {(f.task, f.split): f for f in report.files}
    assert rep["ks", "test"].status.startswith("error:") and "not valid JSON" in rep["ks", "test"].status
    assert rep["ks", "train"].skipped == {"not an object": 1, "invalid field": 1}
    assert "must stay inside AVUIE_2/ks/" in rep["ks", "train"].examples["invalid field"][0]
    assert (rep["cremad", "test"].written, rep["cremad", "test"].kept_missing_media) == (2, 2)
    assert report.totals()["errors"] == 1


def test_templates_are_real_media(media_templates):  # noqa: F811
    """The generated media decode: a video stream in the videos, an audio stream in the audios."""
    for ext, kinds in ((".mp4", {"video", "audio"}), (".avi", {"video"}), (".mp3", {"audio"}), (".wav", {"audio"})):
        with av.open(str(media_templates[ext])) as container:
            assert {s.type for s in container.streams} >= kinds, ext
            assert sum(1 for _ in container.decode(*container.streams)) > 0
    assert Image.open(media_templates[".jpg"]).size == (64, 48)
