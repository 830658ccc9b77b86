"""AVSynth building blocks, checked on what they render: classes, sounds, shapes, motions, faces,
voices, media files and the config."""

from __future__ import annotations

import itertools
import wave
from dataclasses import replace

import av
import numpy as np
import pytest
from PIL import Image

from crabplus.config.core import ConfigError
from crabplus.schema.geometry import mask_box_points
from crabplus.schema.registry import DATASETS
from crabplus.synth.clip import clip_seed
from crabplus.synth.config import SynthConfig, preset
from crabplus.synth.datasets.vocab import EMOTION_LABELS, vocabulary
from crabplus.synth.draw import idmap_at, render_frame
from crabplus.synth.face import render_face, render_voice, sample_emotion_scene
from crabplus.synth.mediaio import read_wav, write_mp4, write_png, write_wav
from crabplus.synth.scene import Scene, SceneObject, merge, place
from crabplus.synth.sound import class_tone, render_audio
from crabplus.synth.world import (
    ALL_CLASSES,
    COLOUR_NAMES,
    COLOURS,
    MOTIONS,
    SHAPE_NAMES,
    class_f0,
    class_name,
)

SR = 16000


def spectrum(x: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sr), mag


def band_peak(x: np.ndarray, f: float, rel: float = 0.03) -> float:
    freqs, mag = spectrum(x)
    return float(mag[(freqs > f * (1 - rel)) & (freqs < f * (1 + rel))].max())


# ---------------------------------------------------------------------------------------------
# classes and sounds
# ---------------------------------------------------------------------------------------------


def test_classes_are_every_colour_shape_pair_once():
    assert len(ALL_CLASSES) == len(set(ALL_CLASSES)) == 30
    assert set(ALL_CLASSES) == {class_name(c, s) for c in COLOUR_NAMES for s in SHAPE_NAMES}
    for name in DATASETS:
        if name in EMOTION_LABELS or name in ("ks", "ucf"):
            continue
        vocab = vocabulary(name)
        assert len(set(vocab)) == len(vocab) >= 8
        assert len({c.split()[0] for c in vocab}) >= 5, f"{name}: too few colours in its vocabulary"


def test_pitches_are_separable():
    f0s = sorted(f for _, f, _ in COLOURS.values())
    assert min(b / a for a, b in itertools.pairwise(f0s)) > 1.5
    for a, b in itertools.permutations(f0s, 2):
        for k in (2, 3):  # no timbre has more than 3 harmonics
            assert abs(k * a - b) / b > 0.06, f"harmonic {k} of {a} Hz is too close to {b} Hz"


@pytest.mark.parametrize("cls", ALL_CLASSES[::3])
def test_class_tone_peaks_at_its_pitch(cls):
    tone = class_tone(*cls.split(), SR, SR)
    freqs, mag = spectrum(tone)
    assert abs(freqs[np.argmax(mag)] - class_f0(cls)) / class_f0(cls) < 0.03
    others = [f for _, f, _ in COLOURS.values() if f != class_f0(cls)]
    assert all(band_peak(tone, f) < 0.05 * band_peak(tone, class_f0(cls)) for f in others)


def test_timbres_differ_as_designed():
    circle, square = class_tone("green", "circle", SR, SR), class_tone("green", "square", SR, SR)
    f0 = COLOURS["green"][1]
    assert band_peak(square, 3 * f0) > 0.2 * band_peak(square, f0)
    assert band_peak(circle, 3 * f0) < 0.01 * band_peak(circle, f0)
    for shape, rate in (("triangle", 2), ("cross", 4)):
        tone = class_tone("green", shape, SR, SR)
        rms = np.sqrt(np.mean(tone.reshape(-1, SR // 200) ** 2, axis=1))  # (200,) 5 ms windows
        off = rms < 1e-3
        assert 0.3 < off.mean() < 0.6, shape  # pulsed: silent between pulses
        assert np.sum(np.diff(off.astype(int)) == 1) == rate  # one on -> off edge per pulse


def test_render_audio_keeps_sound_inside_its_seconds():
    obj = SceneObject("red square", sounding=[(2, 5)], loudness=0.25)
    scene = Scene([obj], duration=8, noise=0.0)
    audio = render_audio(scene, SR, np.random.default_rng(0))
    assert audio.shape == (8 * SR,)
    assert np.all(audio[: 2 * SR] == 0) and np.all(audio[5 * SR :] == 0)
    assert np.abs(audio[2 * SR : 5 * SR]).max() == pytest.approx(0.25, rel=0.05)


# ---------------------------------------------------------------------------------------------
# drawing and motion
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("motion", list(MOTIONS))
def test_moving_objects_stay_inside_the_frame(motion):
    rng = np.random.default_rng(1)
    shape = "square" if motion == "spin" else "cross"
    for _ in range(3):
        size = float(rng.uniform(0.26, 0.34))
        x, y = place(rng, motion, size)
        obj = SceneObject(class_name("red", shape), x=x, y=y, size=size, motion=motion, visible=[(0, 10)])
        scene = Scene([obj], duration=10)
        for t in np.arange(0, 10, 0.25):
            ids = idmap_at(scene, float(t), 56)
            assert ids.any()
            border = np.concatenate([ids[0], ids[-1], ids[:, 0], ids[:, -1]])
            assert not border.any(), f"{motion} touches the frame edge at t={t}"
        # frames sampled once per second (what the model sees) show the motion
        distinct = len({idmap_at(scene, float(t), 56).tobytes() for t in range(10)})
        assert distinct == 1 if motion == "still" else distinct >= 4, (motion, distinct)


def test_shapes_are_distinct_masks():
    masks = {}
    for shape in SHAPE_NAMES:
        obj = SceneObject(class_name("blue", shape), x=0.5, y=0.5, size=0.34, visible=[(0, 1)])
        masks[shape] = idmap_at(Scene([obj], duration=1), 0.0, 56) > 0
    for a, b in itertools.combinations(SHAPE_NAMES, 2):
        iou = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
        assert iou < 0.85, (a, b, iou)


def test_frame_colour_is_exact_inside_the_mask_and_box_points_inside():
    rng = np.random.default_rng(2)
    objects = [
        SceneObject("yellow triangle", x=0.3, y=0.3, size=0.3, visible=[(0, 1)]),
        SceneObject("cyan diamond", x=0.7, y=0.7, size=0.3, visible=[(0, 1)]),
    ]
    for size in (56, 84, 224):
        frame, ids = render_frame(Scene(objects, duration=1), 0.5, size)
        for i, obj in enumerate(objects):
            mask = ids == i + 1
            assert np.all(frame[mask] == COLOURS[obj.colour][0])
            box, points = mask_box_points(mask, rng)
            ys, xs = np.nonzero(mask)
            s = size / 224
            assert box[0] * s <= xs.min() and (xs.max() + 1) <= box[2] * s + 1e-9
            assert box[1] * s <= ys.min() and (ys.max() + 1) <= box[3] * s + 1e-9
            assert (box[2] - box[0]) * s <= xs.max() - xs.min() + 3  # tight
            assert len({tuple(p) for p in points}) == 3
            for px, py in points:
                assert mask[int(py * s), int(px * s)], (size, obj.cls, px, py)


# ---------------------------------------------------------------------------------------------
# faces and voices
# ---------------------------------------------------------------------------------------------


def _voice_stats(emotion: str) -> tuple[float, float]:
    """(RMS, dominant frequency of the voiced part) of an emotion's rendered voice, same speaker."""
    scene = sample_emotion_scene(np.random.default_rng(5), emotion, 4)
    audio = render_voice(scene, SR, np.random.default_rng(5))
    voiced = audio[np.abs(audio) > 0.02]
    freqs, mag = spectrum(audio)
    keep = (freqs > 60) & (freqs < 400)  # the fundamental's range
    return float(np.sqrt(np.mean(voiced**2))), float(freqs[keep][np.argmax(mag[keep])])


def test_voices_carry_the_emotion_and_twin_faces_need_them():
    rms = {e: _voice_stats(e) for e in ("angry", "disgusted", "sad", "worried", "surprised", "happy")}
    assert rms["angry"][0] > 1.5 * rms["disgusted"][0]
    assert rms["angry"][0] > 1.5 * rms["sad"][0]
    assert rms["surprised"][1] > rms["sad"][1]
    # sad and worried share the face: same frame for the same speaker and time (no syllable at t=0)
    sad = replace(sample_emotion_scene(np.random.default_rng(9), "sad", 4), syllables=[])
    assert np.array_equal(render_face(sad, 0.0, 56), render_face(replace(sad, emotion="worried"), 0.0, 56))
    happy = render_face(replace(sad, emotion="happy"), 0.0, 56)
    assert np.abs(happy.astype(int) - render_face(sad, 0.0, 56)).sum() > 1000


# ---------------------------------------------------------------------------------------------
# media files
# ---------------------------------------------------------------------------------------------


def test_mp4_is_h264_aac_and_reproducible(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.zeros((8, 56, 56, 3), np.uint8)
    frames[:, 10:30, 10:30] = (200, 40, 40)
    audio = (0.2 * np.sin(2 * np.pi * 534 * np.arange(4 * SR) / SR)).astype(np.float32)
    audio += 0.01 * rng.standard_normal(4 * SR).astype(np.float32)
    # x264's default rate control at 56 px gave several different streams in 40 runs: check it stays fixed
    a = write_mp4(tmp_path / "a.mp4", frames, audio, 2, SR)
    for _ in range(12):
        assert write_mp4(tmp_path / "b.mp4", frames, audio, 2, SR).read_bytes() == a.read_bytes()
    with av.open(str(a)) as c:
        v, s = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.format.name, v.average_rate) == ("h264", "yuv420p", 2)
        assert (s.codec_context.name, s.rate, s.channels) == ("aac", SR, 1)
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(a)) as c:
        sound = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[0]
    assert len(decoded) == 8 and np.abs(decoded[3].astype(int) - frames[3]).mean() < 4
    assert 4 * SR <= len(sound) < 4 * SR + 1024
    assert np.corrcoef(sound[: 4 * SR], audio)[0, 1] > 0.99
    with pytest.raises(ValueError, match="even"):
        write_mp4(tmp_path / "odd.mp4", np.zeros((2, 55, 55, 3), np.uint8), audio, 2, SR)
    assert not (tmp_path / "odd.mp4").exists() and not list(tmp_path.glob(".*.tmp"))


def test_wav_and_png_round_trip(tmp_path):
    audio = np.sin(np.linspace(0, 100, 1600)).astype(np.float32) * 0.5
    path = write_wav(tmp_path / "x.wav", audio, SR)
    with wave.open(str(path)) as handle:
        assert (handle.getnchannels(), handle.getsampwidth(), handle.getframerate()) == (1, 2, SR)
    back, sr = read_wav(path)
    assert sr == SR and np.abs(back - audio).max() < 1e-4
    img = np.random.default_rng(0).integers(0, 255, (56, 56, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(write_png(tmp_path / "x.png", img))), img)


# ---------------------------------------------------------------------------------------------
# config and seeds
# ---------------------------------------------------------------------------------------------


def test_config_validation_and_presets():
    for bad in (
        {"per_dataset": 1},
        {"test_fraction": 1.0},
        {"image_size": 55},
        {"image_size": 20},
        {"fps": 0},
        {"clip_seconds": 3},
        {"datasets": ["nope"]},
        {"datasets": []},
        {"workers": -1},
    ):
        with pytest.raises(ConfigError):
            SynthConfig(**bad)
    assert SynthConfig(per_dataset=24).split_sizes == (18, 6)
    assert SynthConfig(per_dataset=2, test_fraction=0.9).split_sizes == (1, 1)
    assert preset("full").image_size % 28 == 0 and preset("tiny", seed=3).seed == 3
    with pytest.raises(ConfigError, match="unknown synth preset"):
        preset("huge")


def test_clip_seeds_depend_on_every_part():
    seeds = {
        tuple(clip_seed(0, d, s, i).generate_state(2))
        for d in ("ks", "ave")
        for s in ("train", "test")
        for i in range(3)
    }
    assert len(seeds) == 12
    assert (
        clip_seed(1, "ks", "train", 0).generate_state(2).tolist()
        == clip_seed(1, "ks", "train", 0).generate_state(2).tolist()
    )


def test_merge_joins_touching_ranges():
    assert merge([(5, 7), (0, 2), (2, 3), (6, 9)]) == [(0, 3), (5, 9)]
