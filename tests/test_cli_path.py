"""The user's whole path with the CLI alone: train (tiny) -> predict a record file -> eval, under a
socket guard that fails on any connection attempt; prediction resumes and skips bad inputs."""

from __future__ import annotations

import json
import os
import shutil
import socket

import pytest
import yaml

from crabplus.cli.main import main

pytestmark = pytest.mark.integration  # trains, predicts and evaluates through the CLI

NEW_TOKENS = 4


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt (TCP, UDP, a name lookup) fails the test."""

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"network access attempted: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket.socket, "sendto", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the guard, not the library's own switch, must hold
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)


@pytest.fixture(scope="module")
def trained(small_avsynth, tmp_path_factory):
    """`crabplus train` on the small set: an I-LoRA model after two steps (a random tiny base)."""
    out = tmp_path_factory.mktemp("path-run")
    synth = small_avsynth
    args = [
        "train",
        f"data.train=[{synth}/s4/train.jsonl,{synth}/cremad/train.jsonl]",
        f"data.root={synth}",
        "data.image_size=56",
        f"output_dir={out}",
        "model.ilora.rank=4",
        "model.ilora.alpha=8",
        "train.batch_size=2",
        "train.max_steps=2",
        "train.save_steps=1",
    ]
    assert main(args) == 0
    return synth, out, args


def test_train_predict_eval_on_the_command_line_without_network(trained, tmp_path, no_network, capsys):
    synth, out, args = trained
    # train again under the guard: one more step resumed from the run (loads checkpoints, writes new ones)
    assert main([*args[:-2], "train.max_steps=3", "train.save_steps=1", "--resume"]) == 0
    records = synth / "cremad" / "test.jsonl"
    preds = tmp_path / "preds.jsonl"
    assert (
        main(
            [
                "predict",
                str(records),
                "--checkpoint",
                str(out / "final"),
                "--output",
                str(preds),
                "--max-new-tokens",
                str(NEW_TOKENS),
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    n = sum(1 for line in records.read_text().splitlines() if line.strip())
    assert len(rows) == n and {r["dataset"] for r in rows} == {"cremad"}
    for row in rows:
        assert row["id"] and isinstance(row["predict"], str) and "parsed" in row["prediction"]
        assert row["routing"] and row["source"] == str(records)
    capsys.readouterr()
    assert (
        main(["eval", "--predictions", str(preds), "--data", str(records), "--no-meteor", "--chance-draws", "2"]) == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["datasets"]["cremad"]["n"] == n
    # a free-form question on one clip (it replaces the task's instruction), single-video form, JSON out
    clip = synth / json.loads(records.read_text().splitlines()[0])["media"]["video"]
    capsys.readouterr()
    assert (
        main(
            [
                "predict",
                str(clip),
                "--task",
                "cremad",
                "--question",
                "What do you hear?",
                "--checkpoint",
                str(out / "final"),
                "--max-new-tokens",
                str(NEW_TOKENS),
                "--json",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["dataset"] == "cremad" and any("free-form" in n for n in result["prediction"]["notes"])
    # a question alone asks it as open-ended QA (avqa's instruction)
    assert (
        main(
            [
                "predict",
                str(clip),
                "--question",
                "What do you hear?",
                "--checkpoint",
                str(out / "final"),
                "--max-new-tokens",
                str(NEW_TOKENS),
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["dataset"] == "avqa"


def test_prediction_resumes_and_counts_bad_inputs(trained, tmp_path, capsys):
    synth, out, _ = trained
    media = tmp_path / "media"
    media.mkdir()
    clips = sorted((synth / "cremad" / "media").glob("*.mp4"))[:2]
    for clip in clips:
        shutil.copy(clip, media / clip.name)
    (media / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 50)  # not decodable
    (media / "empty.mp4").write_bytes(b"")
    preds = tmp_path / "p.jsonl"
    cmd = [
        "predict",
        str(media),
        "--task",
        "cremad",
        "--checkpoint",
        str(out / "final"),
        "--output",
        str(preds),
        "--max-new-tokens",
        str(NEW_TOKENS),
    ]
    assert main(cmd) == 0
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(c.name for c in clips)  # ids keep the suffix
    skipped = [json.loads(line) for line in (tmp_path / "p.jsonl.skipped.jsonl").read_text().splitlines()]
    assert sorted(s["id"] for s in skipped) == ["broken.mp4", "empty.mp4"]
    assert all(s["reason"].startswith(str(media)) for s in skipped)
    assert "skipped 2 input(s)" in capsys.readouterr().out
    # a run killed mid-row: the torn line is dropped, that row predicted again, the other kept
    text = preds.read_text().splitlines(keepends=True)
    preds.write_text(text[0] + text[1][: len(text[1]) // 2])
    assert main(cmd) == 0
    again = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [r["id"] for r in again] == [r["id"] for r in rows] and again[0] == rows[0]
    assert "(1 already there)" in capsys.readouterr().out
    # the a2v matching form names the flag it lacks
    assert (
        main(
            [
                "predict",
                str(media / clips[0].name),
                "--task",
                "a2v",
                "--video2",
                str(media / clips[1].name),
                "--checkpoint",
                str(out / "final"),
            ]
        )
        == 2
    )
    assert "--audio" in capsys.readouterr().err


def test_train_refuses_to_delete_checkpoints_without_resume_or_overwrite(trained, capsys):
    synth, out, args = trained
    before = sorted(p.name for p in out.glob("checkpoint-*"))
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and str(out) in err
    assert sorted(p.name for p in out.glob("checkpoint-*")) == before
    # what training wrote is readable as the umask allows (safetensors alone would write 0600)
    mask = os.umask(0)
    os.umask(mask)
    for path in out.rglob("*"):
        assert path.stat().st_mode & 0o777 == (0o777 if path.is_dir() else 0o666) & ~mask, path


def test_a_silent_video_and_an_audio_only_file_are_answered_with_a_note(trained, tmp_path, capsys):
    from helpers.media import sine, write_clip, write_wav

    _, out, _ = trained
    (tmp_path / "in").mkdir()
    write_clip(tmp_path / "in" / "silent.mp4", audio=False)
    write_wav(tmp_path / "in" / "sound.wav", sine(1.0, 16000), 16000)
    preds = tmp_path / "p.jsonl"
    assert (
        main(
            [
                "predict",
                str(tmp_path / "in" / "*"),
                "--task",
                "cremad",
                "--checkpoint",
                str(out / "final"),
                "--output",
                str(preds),
                "--max-new-tokens",
                str(NEW_TOKENS),
            ]
        )
        == 0
    )
    rows = {json.loads(line)["id"]: json.loads(line) for line in preds.read_text().splitlines()}
    assert set(rows) == {"silent.mp4", "sound.wav"}
    settings = yaml.safe_load((tmp_path / "p.jsonl.config.yaml").read_text())  # the resolved settings, beside
    assert (settings["task"], settings["max_new_tokens"]) == ("cremad", NEW_TOKENS)
    assert any("no audio track: a silent track" in n for n in rows["silent.mp4"]["prediction"]["notes"])
    assert any("audio only): blank frames" in n for n in rows["sound.wav"]["prediction"]["notes"])
    # the single-video form prints the note too
    capsys.readouterr()
    assert (
        main(
            [
                "predict",
                str(tmp_path / "in" / "silent.mp4"),
                "--task",
                "cremad",
                "--checkpoint",
                str(out / "final"),
                "--max-new-tokens",
                str(NEW_TOKENS),
            ]
        )
        == 0
    )
    assert "note: " in capsys.readouterr().out


def test_resume_survives_a_damaged_newest_checkpoint_and_a_torn_metrics_line(trained, tmp_path, capsys):
    synth, out, args = trained
    run = tmp_path / "run"
    shutil.copytree(out, run)
    steps = sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    assert len(steps) >= 2
    newest = run / f"checkpoint-{steps[-1]}"
    weights = newest / "trainable.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a disk that lost the tail
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 99, "loss": 1.')  # a kill mid-write
    cmd = [
        "train",
        *[a for a in args[1:] if not a.startswith(("output_dir=", "train.max_steps="))],
        f"output_dir={run}",
        f"train.max_steps={steps[-1] + 1}",
        "--resume",
    ]
    capsys.readouterr()
    assert main(cmd) == 0
    captured = capsys.readouterr()
    err, stdout = captured.err, captured.out
    assert f"passing over checkpoint-{steps[-1]}" in err and "truncated" in err
    assert "dropped a line" in err
    assert f"continuing from {run / f'checkpoint-{steps[-2]}'}" in stdout
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == steps[-1] + 1 and all(r["step"] <= steps[-1] + 1 for r in rows)  # torn row gone
    # garbage optimizer state in every checkpoint: a clear error naming it, nothing deleted
    for ck in run.glob("checkpoint-*"):
        (ck / "optimizer.json").write_text("{garbage")
    assert main([*cmd[:-2], f"train.max_steps={steps[-1] + 2}", "--resume"]) == 1
    assert "optimizer.json" in capsys.readouterr().err
    assert len(list(run.glob("checkpoint-*"))) >= 2
