"""Media a user brings: camera MOVs with PCM audio, forged WAV headers, long clips (made with PyAV here)."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest
from helpers.media import sine, write_clip, write_mov_pcm, write_wav

from crabplus.data.media import MediaError, has_streams, read_audio
from crabplus.data.windows import fit_to_chunk


def test_a_mov_with_pcm_audio_is_not_taken_for_truncated(tmp_path):
    path = write_mov_pcm(tmp_path / "camera.mov", seconds=2.0, sample_rate=48000, channels=2)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = sum(1 for p in container.demux(stream) if p.size)
        assert stream.frames > 10 * packets  # the index counts samples: the old check compared these
    audio = read_audio(path)
    assert audio.shape == (32000,) and np.abs(audio).max() > 0.3


def test_a_truncated_pcm_mov_is_still_caught(tmp_path):
    path = write_mov_pcm(tmp_path / "camera.mov", seconds=2.0)
    data = path.read_bytes()
    moov = data.find(b"moov")
    if moov < data.find(b"mdat"):  # the index first: cutting the tail removes samples the index lists
        path.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(MediaError):
            read_audio(path)
    else:  # the index last: a cut file loses its index and cannot be opened at all
        path.write_bytes(data[: moov - 8])
        with pytest.raises(MediaError):
            read_audio(path)


def _forge_rate(path, rate: int) -> None:
    """Rewrite a PCM WAV header's sample rate (offset 24) and byte rate (offset 28)."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"RIFF" and data[12:16] == b"fmt "
    channels, bits = int.from_bytes(data[22:24], "little"), int.from_bytes(data[34:36], "little")
    data[24:28] = rate.to_bytes(4, "little")
    data[28:32] = (rate * channels * bits // 8).to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_a_wav_claiming_1_hz_is_refused_before_decoding(tmp_path):
    path = write_wav(tmp_path / "one-hz.wav", sine(3.0, 16000), 16000)  # 96 kB of samples
    _forge_rate(path, 1)
    t0 = time.perf_counter()
    with pytest.raises(MediaError, match="1 Hz") as info:
        read_audio(path)
    assert info.value.kind == "corrupt" and time.perf_counter() - t0 < 2.0  # not 768 M samples resampled


def test_headers_tell_what_streams_a_file_has(tmp_path):
    silent = write_clip(tmp_path / "silent.mp4", audio=False)
    sound = write_wav(tmp_path / "sound.wav", sine(1.5, 16000), 16000)
    assert has_streams(silent)[:2] == (True, False)
    video, audio, seconds = has_streams(sound)
    assert (video, audio) == (False, True) and seconds == pytest.approx(1.5, abs=0.05)


def test_long_audio_keeps_windows_spread_over_the_whole_clip():
    rate = 16000
    ramp = np.arange(300 * rate, dtype=np.float32) / (300 * rate)  # 5 minutes, value = position in the clip
    kept = fit_to_chunk(ramp)
    assert kept.shape == (30 * rate,)
    pieces = kept.reshape(10, 3 * rate)
    starts = pieces[:, 0]
    assert starts[0] == 0.0 and pieces[-1, -1] == ramp[-1]  # from the very start to the very end
    assert np.all(np.diff(starts) > 0.09)  # evenly spread, ~0.1 of the clip apart
    short = np.ones(20 * rate, np.float32)
    assert fit_to_chunk(short) is short  # 30 s or less: unchanged (the release's clips)
