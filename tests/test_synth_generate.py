"""A generated AVSynth set checked against its rendered media: every record validates, every MP4 decodes
as declared, and the answers agree with what the frames show and the sound tracks hold."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from crabplus.cli.main import main
from crabplus.evaluate import EvalConfig, evaluate_predictions
from crabplus.schema.records import load_records
from crabplus.schema.registry import RELEASE_DATASETS
from crabplus.synth import GENERATOR_VERSION, SynthConfig, SynthError, generate, load_manifest
from crabplus.synth.datasets.qa import AVQA_TYPES, THU_TYPES
from crabplus.synth.datasets.refavs import unseen
from crabplus.synth.mediaio import read_wav
from crabplus.synth.text import sound_of
from crabplus.synth.world import COLOURS, class_f0, class_rgb
from crabplus.tasks.formats import render_answer, render_instruction, render_target

SEED = 3
F0S = {name: f for name, (_, f, _) in COLOURS.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """All 19 datasets, 6 clips each (4 train + 2 test), rendered once."""
    out = tmp_path_factory.mktemp("avsynth")
    generate(out, SynthConfig(per_dataset=6, seed=SEED, test_fraction=0.3), progress=False)
    return out


@pytest.fixture(scope="module")
def qa_world(tmp_path_factory) -> Path:
    """The QA datasets with enough clips that every question type occurs."""
    out = tmp_path_factory.mktemp("avsynth_qa")
    generate(out, SynthConfig(per_dataset=12, seed=SEED, datasets=["avqa", "avqa_thu"]), progress=False)
    return out


def records(root: Path, dataset: str, splits=("train", "test")) -> list:
    return [r for s in splits for r in load_records(root / dataset / f"{s}.jsonl")]


def decode(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(frames (T, H, W, 3), mono audio (N,), stream facts) of an MP4, read with PyAV."""
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        info = {
            "vcodec": v.codec_context.name,
            "pix_fmt": v.format.name,
            "fps": v.average_rate,
            "acodec": a.codec_context.name,
            "rate": a.rate,
            "channels": a.channels,
            "duration": float(c.duration) / 1e6,
        }
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    with av.open(str(path)) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[0]
    return frames, audio, info


def tone(audio: np.ndarray, sr: int, f0: float, second: int) -> float:
    """Peak spectral magnitude within 3 % of ``f0`` in the middle 70 % of ``second``, over the median
    magnitude of the spectrum (about 1 for no tone; hundreds for a sounding class)."""
    seg = audio[int((second + 0.15) * sr) : int((second + 0.85) * sr)]
    mag = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / sr)
    floor = np.median(mag[(freqs > 100) & (freqs < 7000)])
    return float(mag[(freqs > f0 * 0.97) & (freqs < f0 * 1.03)].max() / floor)


HEARD, SILENT = 60.0, 30.0  # measured: sounding seconds >= 180, others <= 25


def colour_pixels(frame: np.ndarray, rgb: tuple[int, int, int], tol: int = 45) -> int:
    return int((np.abs(frame.astype(int) - np.array(rgb)).max(axis=-1) < tol).sum())


# ---------------------------------------------------------------------------------------------
# layout, records, manifest
# ---------------------------------------------------------------------------------------------


def test_layout_manifest_and_every_record_validates(world, capsys):
    manifest = load_manifest(world)
    assert manifest.version == GENERATOR_VERSION and manifest.seed == SEED
    assert manifest.datasets == list(RELEASE_DATASETS)
    on_disk = json.loads((world / "manifest.json").read_text())
    assert on_disk["config"]["per_dataset"] == 6
    for name in RELEASE_DATASETS:
        for split, n in manifest.counts[name].items():
            recs = load_records(world / name / f"{split}.jsonl")
            assert len(recs) == n > 0 and {r.split for r in recs} == {split}
            assert all(p.startswith(f"{name}/media/") for r in recs for p in r.media.paths().values())
    assert main(["data", "validate", str(world), "--root", str(world)]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_targets_and_instructions_come_from_the_answers(world, qa_world):
    for name in RELEASE_DATASETS:
        for r in records(qa_world if name.startswith("avqa") else world, name):
            assert r.target == render_target(r.reasoning, render_answer(name, r.answer))
            assert r.instruction == render_instruction(
                name, question=r.meta.get("question"), options=r.answer.options, expression=r.meta.get("expression")
            )
            if name == "avcap":  # a caption has no tag to set a chain apart from it: none is written
                assert r.reasoning is None, r.id
            else:
                assert r.reasoning and len(r.reasoning.split()) <= 60, r.id  # "short" stays short


def test_question_types_cover_the_real_ones(qa_world):
    avqa = records(qa_world, "avqa")
    assert {r.meta["question_type"] for r in avqa} == set(AVQA_TYPES)
    thu = records(qa_world, "avqa_thu")
    assert {r.meta["question_type"] for r in thu} == set(THU_TYPES)
    for r in thu:
        assert len(set(r.answer.options)) == 4 and 0 <= r.answer.choice < 4
        assert r.meta["question_relation"] == THU_TYPES[r.meta["question_type"]]


def test_train_and_test_share_no_clip(world):
    for name in RELEASE_DATASETS:
        hashes = {}
        for split in ("train", "test"):
            hashes[split] = {
                hashlib.sha256((world / p).read_bytes()).hexdigest()
                for r in records(world, name, (split,))
                for p in r.media.paths().values()
            }
        assert not hashes["train"] & hashes["test"], name


# ---------------------------------------------------------------------------------------------
# media as declared
# ---------------------------------------------------------------------------------------------


def test_every_mp4_decodes_with_the_declared_duration_rate_and_audio(world):
    n = 0
    for name in RELEASE_DATASETS:
        for r in records(world, name):
            for key in ("video", "video2"):
                rel = getattr(r.media, key)
                if rel is None:
                    continue
                frames, audio, info = decode(world / rel)
                d, fps, sr = r.meta["duration"], r.meta["fps"], r.meta["sample_rate"]
                assert (info["vcodec"], info["pix_fmt"], info["acodec"], info["channels"]) == (
                    "h264",
                    "yuv420p",
                    "aac",
                    1,
                ), rel
                assert info["fps"] == fps and info["rate"] == sr, rel
                assert frames.shape == (d * fps, 56, 56, 3), rel
                assert info["duration"] == pytest.approx(d, abs=0.1), rel
                assert d * sr <= len(audio) < d * sr + 1024, rel
                n += 1
    assert n >= 19 * 6 - 6 * 6  # every video dataset's clips (image tasks have none)


def test_emotion_clips_are_short_and_voiced(world):
    for name in ("meld", "cremad", "mafw", "dfew", "mer24"):
        for r in records(world, name):
            _, audio, info = decode(world / r.media.video)
            assert r.meta["duration"] == 4 and info["duration"] == pytest.approx(4, abs=0.1)
            assert np.sqrt(np.mean(audio**2)) > 0.02, r.id


# ---------------------------------------------------------------------------------------------
# ground truth against rendered data
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["s4", "ms3", "ref_avs", "arig"])
def test_sounding_object_colour_fills_its_mask_box_and_points(world, name):
    for r in records(world, name):
        frame = np.asarray(Image.open(world / r.media.image).convert("RGB"))
        size = frame.shape[0]
        if r.answer.mask is not None:
            mask = np.asarray(Image.open(world / r.answer.mask))
            assert mask.shape == frame.shape[:2] and set(np.unique(mask)) <= {0, 255}, r.id
            if r.answer.exists is False:
                assert not mask.any()
                continue
            inside = mask > 0
        else:  # arig: the label colour's connected blob inside the box
            colour = np.all(frame == class_rgb(r.answer.label), axis=-1)
            x1, y1, x2, y2 = (int(v * size / 224) for v in r.answer.box)
            inside = np.zeros_like(colour)
            inside[y1 : y2 + 1, x1 : x2 + 1] = colour[y1 : y2 + 1, x1 : x2 + 1]
            assert inside.sum() > 20, r.id
        assert np.all(frame[inside] == class_rgb(r.answer.label)), r.id
        ys, xs = np.nonzero(inside)
        x1, y1, x2, y2 = (v * size / 224 for v in r.answer.box)
        assert x1 <= xs.min() and xs.max() + 1 <= x2 and y1 <= ys.min() and ys.max() + 1 <= y2, r.id
        assert (x2 - x1) - (xs.max() + 1 - xs.min()) < 1 and (y2 - y1) - (ys.max() + 1 - ys.min()) < 1, r.id
        for px, py in r.answer.points or []:
            assert inside[int(py * size / 224), int(px * size / 224)], (r.id, px, py)


@pytest.mark.parametrize("name", ["s4", "ms3", "ref_avs"])
def test_the_audio_window_holds_the_sounding_objects_tone(world, name):
    for r in records(world, name):
        if r.answer.exists is False:
            continue
        audio, sr = read_wav(world / r.media.audio)
        n_windows = 10 if name == "ref_avs" else 5
        assert len(audio) == r.meta["duration"] * sr
        second = int((r.media.audio_window_index + 0.5) * r.meta["duration"] / n_windows)
        levels = {c: tone(audio, sr, f, second) for c, f in F0S.items()}
        colour = r.answer.label.split()[0]
        cue = r.meta.get("cue", "sounding")
        if cue in ("sounding", "louder", "higher", "timbre"):
            assert levels[colour] > HEARD, (r.id, levels)
        elif cue == "silent" and _blobs(r.media.image, world, r.answer.label) == 1:
            # "the silent X", and no other object of its colour (so of its pitch) in the frame
            assert levels[colour] < SILENT, (r.id, levels)
        if name == "ms3":  # sources take turns: in this second only the answer's pitch sounds
            assert all(v < SILENT for c, v in levels.items() if c != colour), (r.id, levels)


def _blobs(image: str, root: Path, cls: str) -> int:
    """How many separate objects of ``cls``'s colour the PNG frame shows."""
    frame = np.asarray(Image.open(root / image).convert("RGB"))
    colour = np.all(frame == class_rgb(cls), axis=-1).astype(np.uint8)
    return cv2.connectedComponents(colour)[0] - 1


def _seconds(events) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for e in events:
        out.setdefault(e.label, set()).update(range(int(e.start), int(e.end)))
    return out


@pytest.mark.parametrize("name", ["ave", "unav", "avvp"])
def test_event_tones_sound_inside_their_seconds_and_not_outside(world, name):
    for r in records(world, name):
        frames, audio, _ = decode(world / r.media.video)
        sr, d, fps = r.meta["sample_rate"], r.meta["duration"], r.meta["fps"]
        heard = _seconds(r.answer.audio_events if name == "avvp" else r.answer.events)
        for label, secs in heard.items():
            for s in range(d):
                level = tone(audio, sr, class_f0(label), s)
                assert (level > HEARD) if s in secs else (level < SILENT), (r.id, label, s, level)
        seen = _seconds(r.answer.visual_events) if name == "avvp" else heard
        for label, secs in seen.items():  # AV events are also seen; AVVP visual events exactly
            for s in range(d):
                shown = max(colour_pixels(f, class_rgb(label)) for f in frames[s * fps : (s + 1) * fps])
                if s in secs:
                    assert shown >= 4, (r.id, label, s)
                elif name == "avvp" and not any(
                    o["class"].split()[0] == label.split()[0]
                    for o in r.meta["scene"]["objects"]
                    if o["class"] != label and o["onscreen"]
                ):
                    assert shown == 0, (r.id, label, s, shown)


def test_counting_answers_equal_what_is_rendered(qa_world):
    checked = 0
    words = ["zero", "one", "two", "three", "four", "five"]
    for r in records(qa_world, "avqa"):
        frames, audio, _ = decode(qa_world / r.media.video)
        if r.meta["question"] == "How many objects are in the video?":
            saturated = (frames[0].max(-1).astype(int) - frames[0].min(-1)) > 90
            n, _ = cv2.connectedComponents(saturated.astype(np.uint8))
            assert words[n - 1] == r.answer.text, r.id
            checked += 1
        elif r.meta["question_type"] == "Audio-Counting":
            heard = sum(max(tone(audio, 16000, f, s) for s in range(10)) > HEARD for f in F0S.values())
            assert words[heard] == r.answer.text, r.id
            checked += 1
    assert checked >= 2


def _residual(track: np.ndarray, reference: np.ndarray) -> float:
    """||track - reference|| / ||reference|| over the reference's length (AAC coding error ~ 0.05)."""
    n = len(reference)
    return float(np.linalg.norm(track[:n] - reference) / np.linalg.norm(reference))


def test_matching_answers_point_at_the_true_partner(world):
    """The audio of the correct candidate pair is the same sound track (up to AAC coding), the other not."""
    for r in records(world, "a2v"):
        wav, _ = read_wav(world / r.media.audio)
        e = [_residual(decode(world / v)[1], wav) for v in (r.media.video, r.media.video2)]
        assert e[r.answer.choice - 1] < 0.2 and e[2 - r.answer.choice] > 0.6, (r.id, e)
    for r in records(world, "v2a"):
        track = decode(world / r.media.video)[1]
        e = [_residual(track, read_wav(world / a)[0]) for a in (r.media.audio, r.media.audio2)]
        assert e[r.answer.choice - 1] < 0.2 and e[2 - r.answer.choice] > 0.6, (r.id, e)


def test_matching_chains_name_both_candidates_before_the_choice(world):
    """The chain is evidence first: each candidate's content, then the answer, which only the true partner fits."""
    for r in records(world, "a2v"):
        heard, scenes = r.meta["audio_event"], (r.meta["scene"]["video1"], r.meta["scene"]["video2"])
        shown = [", ".join(o["class"] for o in s["objects"] if o["onscreen"]) for s in scenes]
        said = r.reasoning.split("Video 1 shows ")[1]
        assert r.reasoning.startswith(f"I hear {sound_of(heard)}, the sound of a {heard}."), r.reasoning
        for i, classes in enumerate(shown):
            assert all(c in said.split("video 2 shows ")[i] for c in classes.split(", ")), (r.id, said)
        assert [heard in s for s in shown] == [r.answer.choice == 1, r.answer.choice == 2], r.id
        assert r.target == f"{r.reasoning} <answer>{r.answer.choice}</answer>"
    for r in records(world, "v2a"):
        first, second = r.meta["audio1_event"], r.meta["audio2_event"]
        assert (
            f"Audio 1 is {sound_of(first)}, the sound of a {first}; audio 2 is {sound_of(second)}, the sound of "
            f"a {second}."
        ) in r.reasoning, r.reasoning
        assert r.reasoning.startswith(f"I see a {r.meta['video_event']}"), r.reasoning
        assert (r.meta["video_event"], r.answer.choice) in ((first, 1), (second, 2)), r.id


def test_ref_avs_splits_seen_unseen_and_null(world):
    tests = records(world, "ref_avs", ("test",))
    assert [r.meta["split"] for r in tests] == [("test_s", "test_u", "test_n")[i % 3] for i in range(len(tests))]
    for r in records(world, "ref_avs"):
        assert f"<des>{r.meta['expression'].lower()}</des>" in r.instruction
        assert unseen(r.meta["cue"], r.meta["value"]) == (r.meta["split"] == "test_u"), r.id
        assert (r.answer.exists is False) == (r.meta["split"] == "test_n" or r.answer.label is None), r.id


# ---------------------------------------------------------------------------------------------
# determinism, reasoning levels, the command line
# ---------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_whatever_the_workers(world, tmp_path):
    names = ["ks", "meld", "a2v", "s4", "ref_avs"]
    generate(
        tmp_path, SynthConfig(per_dataset=2, seed=SEED, test_fraction=0.3, datasets=names, workers=2), progress=False
    )
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".json"]
    media = [p for p in files if p.suffix in (".mp4", ".wav", ".png")]
    assert len(media) >= 12
    for p in media:  # clip bytes depend on (seed, dataset, split, index) only
        assert p.read_bytes() == (world / p.relative_to(tmp_path)).read_bytes(), p
    for name in names:
        first = (tmp_path / name / "train.jsonl").read_text().splitlines()[0]
        assert first == (world / name / "train.jsonl").read_text().splitlines()[0]


def test_reasoning_levels(world, tmp_path):
    generate(
        tmp_path / "none",
        SynthConfig(per_dataset=2, seed=SEED, test_fraction=0.3, datasets=["ave"], reasoning="none"),
        progress=False,
    )
    generate(
        tmp_path / "full",
        SynthConfig(per_dataset=2, seed=SEED, test_fraction=0.3, datasets=["ave"], reasoning="full"),
        progress=False,
    )
    short = load_records(world / "ave" / "train.jsonl")[0]
    none = load_records(tmp_path / "none" / "ave" / "train.jsonl")[0]
    full = load_records(tmp_path / "full" / "ave" / "train.jsonl")[0]
    assert none.reasoning is None and none.target == render_answer("ave", short.answer)
    assert none.answer == short.answer == full.answer
    assert len(full.reasoning) > len(short.reasoning) and full.reasoning.startswith("I see")


def test_cli_generates_replaces_and_refuses(tmp_path, capsys):
    out = tmp_path / "set"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(out),
                "--per-dataset",
                "2",
                "--datasets",
                "ucf,arig",
                "--seed",
                "5",
                "--quiet",
            ]
        )
        == 0
    )
    assert load_manifest(out).counts == {"ucf": {"train": 1, "test": 1}, "arig": {"train": 1, "test": 1}}
    assert main(["data", "synth", "--out", str(out), "--per-dataset", "2", "--datasets", "arig", "--quiet"]) == 0
    assert not (out / "ucf").exists() and load_manifest(out).datasets == ["arig"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["data", "synth", "--out", str(tmp_path / "mine"), "--per-dataset", "2", "--quiet"]) == 1
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert "holds no AVSynth manifest" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(out), "--datasets", "ks,nope"]) == 2
    assert main(["data", "synth", "--out", str(out), "--image-size", "57"]) == 2
    with pytest.raises(SynthError, match="no AVSynth manifest"):
        load_manifest(tmp_path / "mine")
    # a run that stopped half way (no manifest yet) is regenerated in place
    (out / "manifest.json").unlink()
    assert main(["data", "synth", "--out", str(out), "--per-dataset", "2", "--datasets", "ucf", "--quiet"]) == 0
    assert not (out / "arig").exists() and load_manifest(out).datasets == ["ucf"]


def test_every_targets_own_answer_scores_the_maximum(world):
    """A model that writes the targets exactly scores the best value of each official metric: whatever chain
    precedes the answer is not scored as part of it (AVSynth 1.3 wrote one before captions: CIDEr fell 20x)."""
    names = [n for n in RELEASE_DATASETS if n not in ("s4", "ms3", "ref_avs")]  # masks need a segmenter
    recs = [r for n in names for r in records(world, n, ("test",))]
    preds = [{"id": r.id, "dataset": r.dataset, "predict": r.target} for r in recs]
    report = evaluate_predictions(recs, preds, world, config=EvalConfig(meteor=False, chance_draws=1))
    best = {"cider": None, "avg_map": 1.0, "segment_type": 1.0}
    for name, row in report.datasets.items():
        want = best.get(row.primary_metric, 1.0)
        if want is not None:
            assert row.primary == pytest.approx(want), (name, row.metrics)
    cap = report.datasets["avcap"].metrics
    assert cap["bleu4"] == pytest.approx(1.0) and cap["rouge_l"] == pytest.approx(1.0)  # one reference, word for word
    assert all(r.target == r.answer.text and r.reasoning is None for r in records(world, "avcap"))
