"""Media reading on real files written here (H.264 + AAC MP4, WAV, MP3, PNG): frames, audio, images, and a
documented MediaError for every kind of broken file."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers.media import frame_level, sine, write_clip, write_mp3, write_png, write_wav

from crabplus.data.media import MediaError, read_audio, read_frame_at, read_frames, read_image


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    vfr_times = [0.05 * i for i in range(10)] + [1.0, 1.5, 2.0, 2.5, 3.0]
    files = {
        "clip": write_clip(d / "clip.mp4", seconds=2.0, fps=10, width=64, height=48),
        "faststart": write_clip(d / "faststart.mp4", seconds=2.0, fps=10, faststart=True),
        "silent": write_clip(d / "silent.mp4", audio=False),
        "vfr": write_clip(d / "vfr.mp4", frame_times=vfr_times, seconds=3.0, audio=False),
        "wav": write_wav(d / "left.wav", sine(1.0, 8000, channels=2, right_gain=0.0), 8000),
        "wav6": write_wav(d / "six.wav", sine(0.5, 48000, channels=6), 48000),
        "mp3": write_mp3(d / "tone.mp3", sine(1.0, 22050, channels=2), 22050),
    }
    files["dir"] = d
    return files


def _levels(frames: np.ndarray) -> list[int]:
    return [int(f[..., 0].mean().round()) for f in frames]


def _closest(level: int, n: int) -> int:
    return min(range(n), key=lambda i: abs(frame_level(i, n) - level))


def test_read_frames_samples_uniformly_by_index(media):
    frames = read_frames(media["clip"], 5, size=32)
    assert frames.shape == (5, 32, 32, 3) and frames.dtype == np.uint8
    # 20 frames: rounded linspace(0, 19, 5) = 0, 5, 10 (9.5 rounds to even), 14, 19 (decord's rule)
    assert [_closest(v, 20) for v in _levels(frames)] == [0, 5, 10, 14, 19]
    every = read_frames(media["clip"], 20, size=16)
    assert [_closest(v, 20) for v in _levels(every)] == list(range(20))


def test_variable_frame_rate_is_sampled_uniformly_in_time(media):
    # frames at 0, .05, ..., .45 s then every .5 s to 3 s: time-uniform 0, 1, 2, 3 s -> frames 0, 10, 12, 14
    frames = read_frames(media["vfr"], 4, size=16)
    assert [_closest(v, 15) for v in _levels(frames)] == [0, 10, 12, 14]


def test_read_frame_at_gives_the_frame_on_screen(media):
    assert _closest(_levels(read_frame_at(media["clip"], 0.55, 16)[None])[0], 20) == 5
    assert _closest(_levels(read_frame_at(media["clip"], 0.0, 16)[None])[0], 20) == 0
    assert _closest(_levels(read_frame_at(media["clip"], 1.99, 16)[None])[0], 20) == 19
    with pytest.raises(MediaError, match="outside the clip") as err:
        read_frame_at(media["clip"], 7.0, 16)
    assert err.value.kind == "out_of_range" and str(media["clip"]) in str(err.value)


def _tone_amplitude(audio: np.ndarray, freq: float, rate: int = 16000) -> float:
    """Amplitude of the ``freq`` component (least squares on sin/cos), away from the edges."""
    x = audio[rate // 10 : -rate // 10]
    t = (np.arange(len(x)) + rate // 10) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(np.hypot(*coef))


def test_read_audio_from_video_track_and_files(media):
    a = read_audio(media["clip"])  # 44.1 kHz stereo AAC
    assert a.dtype == np.float32 and a.ndim == 1
    assert abs(len(a) - 32000) < 800  # 2 s (+ the AAC encoder's trailing padding)
    assert _tone_amplitude(a, 440) == pytest.approx(0.5, abs=0.02)
    assert np.abs(a).max() <= 1.0
    # channels are averaged (librosa's mono): left 0.5, right silent -> 0.25
    left = read_audio(media["wav"])
    assert len(left) == 16000 and _tone_amplitude(left, 440) == pytest.approx(0.25, abs=0.01)
    six = read_audio(media["wav6"])  # 48 kHz, 6 channels
    assert len(six) == 8000 and _tone_amplitude(six, 440) == pytest.approx(0.5, abs=0.01)
    mp3 = read_audio(media["mp3"])
    assert abs(len(mp3) - 16000) < 1200 and _tone_amplitude(mp3, 440) == pytest.approx(0.5, abs=0.05)  # lossy
    assert len(read_audio(media["wav"], sample_rate=8000)) == 8000


def test_read_image_rgb_and_transparency(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :20, 3] = 255  # left half opaque red, right half transparent -> white
    img = read_image(write_png(tmp_path / "a.png", rgba), 28)
    assert img.shape == (28, 28, 3) and img.dtype == np.uint8
    assert tuple(img[14, 2]) == (200, 0, 0) and tuple(img[14, 25]) == (255, 255, 255)


# ------------------------------------------------------------------------------------------ bad files


def _expect(kind: str, fn, path, match: str | None = None) -> MediaError:
    with pytest.raises(MediaError) as err:
        fn(path)
    assert err.value.kind == kind, str(err.value)
    assert str(path) in str(err.value)  # the message names the file
    if match:
        assert match in str(err.value)
    return err.value


def test_broken_files_each_give_their_documented_error(media, tmp_path):
    good = media["clip"].read_bytes()
    frames = lambda p: read_frames(p, 4, 16)  # noqa: E731
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(40_000))
    (tmp_path / "truncated.mp4").write_bytes(good[: len(good) // 2])  # the index (moov) is at the end: lost
    fast = media["faststart"].read_bytes()
    (tmp_path / "truncated_faststart.mp4").write_bytes(fast[: len(fast) // 2])  # index kept, data cut
    (tmp_path / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(100))

    _expect("missing", frames, tmp_path / "nope.mp4", "no such file")
    _expect("missing", read_audio, tmp_path / "nope.wav")
    _expect("not_a_file", frames, tmp_path)
    _expect("empty", frames, tmp_path / "zero.mp4", "0 bytes")
    _expect("empty", read_audio, tmp_path / "zero.mp4")
    _expect("unreadable", frames, tmp_path / "garbage.mp4")
    _expect("unreadable", read_audio, tmp_path / "garbage.mp4")
    _expect("unreadable", frames, tmp_path / "truncated.mp4")
    _expect("truncated", frames, tmp_path / "truncated_faststart.mp4", "truncated")
    _expect("truncated", read_audio, tmp_path / "truncated_faststart.mp4", "truncated")
    _expect("no_audio", read_audio, media["silent"], "no audio track")
    _expect("no_video", frames, media["wav"], "no video stream")
    _expect("too_large", lambda p: read_frames(p, 2, 16, max_pixels=32 * 32), media["clip"], "64x48")
    _expect("unreadable", lambda p: read_image(p, 28), tmp_path / "garbage.png")
    _expect("missing", lambda p: read_image(p, 28), tmp_path / "nope.png")


def test_the_content_decides_not_the_extension(media, tmp_path):
    as_wav = tmp_path / "really_an_mp4.wav"
    as_wav.write_bytes(media["clip"].read_bytes())
    assert read_frames(as_wav, 2, 16).shape == (2, 16, 16, 3)
    assert np.allclose(read_audio(as_wav), read_audio(media["clip"]))
    as_mp4 = tmp_path / "really_a_wav.mp4"
    as_mp4.write_bytes(media["wav"].read_bytes())
    assert len(read_audio(as_mp4)) == 16000
    _expect("no_video", lambda p: read_frames(p, 2, 16), as_mp4)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    _expect("not_a_file", lambda p: read_frames(p, 2, 16), fifo)
