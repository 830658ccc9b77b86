"""Audio features side by side with their definitions: Whisper log-mel against transformers'
WhisperFeatureExtractor, Kaldi fbank against an independent per-frame implementation of torchaudio's
definition, the encoder's token count against transformers, and the release's audio windows."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from transformers import WhisperFeatureExtractor
from transformers.models.qwen2_5_omni.processing_qwen2_5_omni import _get_feat_extract_output_lengths

from crabplus.data.audio_features import audio_token_count, kaldi_fbank, mel_hop_length, whisper_log_mel
from crabplus.data.windows import apply_window, check_window_index


def _signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t) + 0.05 * rng.standard_normal(n)
    x[-min(n, 40) :] = 0.9  # a loud tail: the frames at the boundary must see what the extractor sees
    return x.astype(np.float32)


@pytest.mark.parametrize(
    ("n", "n_mels"), [(1, 128), (161, 128), (16_037, 128), (16_037, 80), (479_930, 128), (480_000, 128)]
)
def test_whisper_log_mel_equals_the_extractor_on_valid_frames(n, n_mels):
    audio = _signal(n)
    ref = WhisperFeatureExtractor(feature_size=n_mels)(audio, sampling_rate=16000, return_attention_mask=True)
    valid = int(ref["attention_mask"][0].sum())
    mine = whisper_log_mel(audio, n_mels)
    assert mine.dtype == np.float32 and mine.shape == (n_mels, valid) == (n_mels, math.ceil(n / 160))
    np.testing.assert_allclose(mine, ref["input_features"][0][:, :valid], atol=1e-4, rtol=0)


@pytest.mark.parametrize("n", [1, 321, 16_037, 480_000])
def test_whisper_log_mel_at_the_tiny_presets_20ms_hop_equals_the_extractor_at_that_hop(n):
    audio = _signal(n)
    ref = WhisperFeatureExtractor(feature_size=128, hop_length=320)(
        audio, sampling_rate=16000, return_attention_mask=True
    )
    valid = int(ref["attention_mask"][0].sum())
    mine = whisper_log_mel(audio, 128, hop=320)
    assert mine.shape == (128, valid) == (128, math.ceil(n / 320))
    np.testing.assert_allclose(mine, ref["input_features"][0][:, :valid], atol=1e-4, rtol=0)


def test_mel_hop_length_reads_the_audio_config_and_defaults_to_whispers():
    assert mel_hop_length(SimpleNamespace()) == 160  # a released checkpoint's config has no such key
    assert mel_hop_length(SimpleNamespace(mel_hop_length=320)) == 320
    with pytest.raises(ValueError, match="mel_hop_length=401"):
        mel_hop_length(SimpleNamespace(mel_hop_length=401))


def test_whisper_log_mel_of_silence_and_nothing():
    assert whisper_log_mel(np.zeros(0, np.float32)).shape == (128, 0)
    silent = whisper_log_mel(np.zeros(1600, np.float32))
    assert silent.shape == (128, 10) and np.allclose(silent, -1.5)  # log10(1e-10) = -10 -> (-10 + 4) / 4


def _kaldi_reference(audio: np.ndarray, bins: int) -> np.ndarray:
    """torchaudio.compliance.kaldi.fbank's definition, written out frame by frame in float64."""
    x = audio.astype(np.float64) * 32768
    length, shift, nfft = 400, 160, 512
    window = np.array([(0.5 - 0.5 * math.cos(2 * math.pi * i / (length - 1))) ** 0.85 for i in range(length)])

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    lo, hi = mel(20.0), mel(8000.0)
    step = (hi - lo) / (bins + 1)
    bank = np.zeros((bins, nfft // 2 + 1))
    for b in range(bins):
        left, center, right = lo + b * step, lo + (b + 1) * step, lo + (b + 2) * step
        for k in range(nfft // 2):
            m = mel(k * 16000 / nfft)
            if left < m < right:
                bank[b, k] = (m - left) / (center - left) if m <= center else (right - m) / (right - center)
    out = []
    for start in range(0, len(x) - length + 1, shift):
        frame = x[start : start + length] - x[start : start + length].mean()
        emphasised = frame - 0.97 * np.concatenate([frame[:1], frame[:-1]])
        spectrum = np.abs(np.fft.rfft(np.concatenate([emphasised * window, np.zeros(nfft - length)]))) ** 2
        out.append(np.log(np.maximum(bank @ spectrum, np.finfo(np.float32).eps)))
    return np.array(out)


@pytest.mark.parametrize("bins", [128, 64])
def test_kaldi_fbank_matches_the_definition(bins):
    audio = _signal(4000, seed=1)
    mine = kaldi_fbank(audio, bins)
    assert mine.dtype == np.float32 and mine.shape == (1 + (4000 - 400) // 160, bins)
    np.testing.assert_allclose(mine, _kaldi_reference(audio, bins), atol=1e-4, rtol=0)
    assert kaldi_fbank(np.zeros(399, np.float32)).shape == (0, 128)  # shorter than one frame: no frames


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5, 99, 100, 101, 250, 1000, 3000])
def test_audio_token_count_is_the_encoders(frames):
    assert audio_token_count(frames) == int(_get_feat_extract_output_lengths(np.array(frames)))
    assert audio_token_count(100) == 25 and audio_token_count(3000) == 750  # 25 tokens per second


# ------------------------------------------------------------------------------------------ windows

SR = 16000


def test_tenths_and_fifths_keep_the_clip_without_its_tail():
    audio = np.arange(10 * SR + 7, dtype=np.float32)
    assert np.array_equal(apply_window(audio, "tenths"), audio[: 10 * SR])
    odd = np.arange(12345 * 5 + 3, dtype=np.float32)
    assert np.array_equal(apply_window(odd, "fifths"), odd[: 12345 * 5])


def test_avqa_takes_ten_two_second_windows_of_a_sixty_second_clip():
    audio = np.arange(60 * SR, dtype=np.float32) + 1  # sample value = index + 1 (0 marks padding)
    out = apply_window(audio, "ten_of_60s")
    assert len(out) == 20 * SR
    first = out[: 2 * SR]
    assert np.all(first[: SR // 2] == 0) and first[SR // 2] == 1  # [-0.5, 1.5] s, zero-padded in front
    for k, t in enumerate(range(6, 60, 6), start=1):  # [t - 0.5, t + 1.5] s
        window = out[2 * SR * k : 2 * SR * (k + 1)]
        assert window[0] == int((t - 0.5) * SR) + 1 and window[-1] == int((t + 1.5) * SR)


def test_first4_is_exactly_four_seconds():
    short = np.ones(int(2.5 * SR), np.float32)
    out = apply_window(short, "first4")
    assert len(out) == 4 * SR and out[: len(short)].all() and not out[len(short) :].any()
    long = np.arange(9 * SR, dtype=np.float32)
    assert np.array_equal(apply_window(long, "first4"), long[: 4 * SR])


def test_one_part_windows_follow_the_index():
    audio = np.arange(5 * SR, dtype=np.float32)
    assert np.array_equal(apply_window(audio, "one_fifth", 2), audio[2 * SR : 3 * SR])
    ten = np.arange(10 * SR + 5, dtype=np.float32)
    unit = len(ten) // 10
    assert np.array_equal(apply_window(ten, "one_tenth", 9), ten[9 * unit : 10 * unit])
    for mode, bad in (("one_fifth", 5), ("one_tenth", -1), ("one_fifth", None)):
        with pytest.raises(ValueError, match="index"):
            apply_window(audio, mode, bad)
    with pytest.raises(ValueError, match="unknown audio window"):
        check_window_index("halves", None)


def test_clips_shorter_than_one_second_are_padded_first():
    short = np.ones(SR // 4, np.float32)
    out = apply_window(short, "tenths")
    assert len(out) == SR and out[: SR // 4].all() and not out[SR // 4 :].any()
    assert len(apply_window(short, "one_tenth", 0)) == SR // 10
