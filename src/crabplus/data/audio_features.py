"""Audio features in plain torch: the Whisper log-mel of the Qwen2.5-Omni audio encoder, and Kaldi fbank.

Why not the libraries: torchaudio does not load here, and transformers' ``WhisperFeatureExtractor`` always
pads to 30 s (3000 frames) although the encoder only reads the valid frames (``feature_attention_mask``).
On CPU that padding is most of the work, so :func:`whisper_log_mel` computes the valid frames only, with
exactly the extractor's arithmetic (same window, STFT, mel filters, log10 floor and dynamic-range clamp);
the side-by-side test checks it against the extractor within 1e-4.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms: Whisper's and every released Qwen2.5-Omni's
CHUNK_SAMPLES = 30 * SAMPLE_RATE  # the extractor's fixed 30 s input


def mel_hop_length(audio_config) -> int:
    """The mel hop (samples at 16 kHz) a thinker's audio encoder was built for: ``mel_hop_length`` in its
    audio config, else Whisper's 160. Only the ``tiny`` preset sets it (320, 20 ms): half the audio tokens
    for a model that never sees a released checkpoint (docs/model.md)."""
    hop = int(getattr(audio_config, "mel_hop_length", HOP) or HOP)
    if hop <= 0 or hop > N_FFT:
        raise ValueError(f"audio config mel_hop_length={hop}: must be in 1..{N_FFT} (the STFT window)")
    return hop


@functools.lru_cache(maxsize=4)
def _whisper_mel_filters(n_mels: int) -> torch.Tensor:
    """[n_fft//2 + 1, n_mels] Slaney-normalised mel filters, 0-8 kHz (the extractor's own filters)."""
    from transformers.audio_utils import mel_filter_bank

    fb = mel_filter_bank(
        num_frequency_bins=1 + N_FFT // 2,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=8000.0,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(fb).float()


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def whisper_log_mel(audio: np.ndarray, n_mels: int = 128, hop: int = HOP) -> np.ndarray:
    """float32 [n_mels, ceil(len/hop)]: the log-mel of 16 kHz ``audio`` on its own frames.

    Equal (to float rounding) to ``WhisperFeatureExtractor(feature_size=n_mels)(audio, sampling_rate=16000)``
    restricted to the valid frames, for audio of up to 30 s. The extractor zero-pads to 30 s before its
    centred STFT, so the last valid frames see zeros past the end, and its dynamic-range clamp (max - 8)
    takes the max over all 3000 frames; both are reproduced by zero-padding just far enough.
    ``hop``: 160 (10 ms) is the extractor's; another hop (the tiny preset's 320) keeps everything else.
    """
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32)).flatten()
    n = x.numel()
    valid, max_frames = _ceil_div(n, hop), CHUNK_SAMPLES // hop
    # Zeros past the end, as in the extractor's input padded to 30 s: enough for every frame that touches the
    # audio, but never beyond 30 s, where the extractor's centred STFT reflects its (padded) input instead.
    pad = 2 * N_FFT if n > CHUNK_SAMPLES else min(2 * N_FFT, CHUNK_SAMPLES - n)
    x = torch.cat([x, x.new_zeros(pad)])
    window = torch.hann_window(N_FFT)
    stft = torch.stft(x, N_FFT, hop, window=window, return_complex=True)  # [n_fft/2+1, frames]
    power = stft[:, :-1].abs() ** 2  # the extractor drops the last frame
    if n <= CHUNK_SAMPLES:
        power = power[:, :max_frames]  # the frames the extractor's max runs over (the rest are all zero)
    mel = _whisper_mel_filters(n_mels).T @ power  # [n_mels, frames]
    log_spec = torch.clamp(mel, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    return log_spec[:, :valid].numpy().astype(np.float32, copy=False)


def audio_token_count(num_frames: int) -> int:
    """LLM tokens the Qwen2.5-Omni audio encoder emits for ``num_frames`` valid mel frames.

    transformers' ``Qwen2_5OmniAudioEncoder._get_feat_extract_output_lengths``: a stride-2 convolution, then
    stride-2 average pooling: ``((L - 1) // 2 + 1 - 2) // 2 + 1`` (25 tokens per second at a 10 ms hop,
    12.5 at the tiny preset's 20 ms).
    """
    after_cnn = (num_frames - 1) // 2 + 1
    return (after_cnn - 2) // 2 + 1


# --------------------------------------------------------------------------------------------
# Kaldi fbank (Crab's modular paradigm: BEATs takes 128-bin fbank of the waveform scaled by 2^15)
# --------------------------------------------------------------------------------------------

KALDI_FRAME = 400  # 25 ms at 16 kHz
KALDI_SHIFT = 160  # 10 ms
KALDI_FFT = 512  # frame padded to the next power of two
KALDI_EPS = float(torch.finfo(torch.float32).eps)  # the log floor of torchaudio's definition


def _mel(f: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log1p(f / 700.0)


@functools.lru_cache(maxsize=4)
def _kaldi_mel_banks(num_bins: int, low_freq: float = 20.0, high_freq: float = 8000.0) -> torch.Tensor:
    """[num_bins, KALDI_FFT//2 + 1] triangular filters, equally spaced on Kaldi's mel scale (float64).

    Triangles are computed in the mel domain, and the Nyquist column is zero, as Kaldi/torchaudio define.
    """
    n_fft_bins = KALDI_FFT // 2
    mel_low, mel_high = (
        _mel(torch.tensor(low_freq, dtype=torch.float64)),
        _mel(torch.tensor(high_freq, dtype=torch.float64)),
    )
    delta = (mel_high - mel_low) / (num_bins + 1)
    i = torch.arange(num_bins, dtype=torch.float64).unsqueeze(1)
    left, center, right = mel_low + i * delta, mel_low + (i + 1) * delta, mel_low + (i + 2) * delta
    mel_f = _mel((SAMPLE_RATE / KALDI_FFT) * torch.arange(n_fft_bins, dtype=torch.float64)).unsqueeze(0)
    up = (mel_f - left) / (center - left)
    down = (right - mel_f) / (right - center)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)  # [num_bins, n_fft_bins]
    return torch.cat([banks, banks.new_zeros(num_bins, 1)], dim=1)


def kaldi_fbank(audio: np.ndarray, num_mel_bins: int = 128) -> np.ndarray:
    """float32 [frames, num_mel_bins]: Kaldi log mel filterbank of 16 kHz ``audio`` in [-1, 1].

    The definition of ``torchaudio.compliance.kaldi.fbank(audio * 32768, num_mel_bins=..,
    sample_frequency=16000, frame_length=25, frame_shift=10)`` with its defaults: frames without edge padding
    (``snip_edges``), no dither, DC offset removed, pre-emphasis 0.97, Povey window, 512-point power
    spectrum, mel bins 20 Hz-8 kHz, natural log floored at float32 epsilon. Computed in float64.
    """
    x = torch.as_tensor(np.asarray(audio, dtype=np.float64)).flatten() * 32768.0
    if x.numel() < KALDI_FRAME:
        return np.zeros((0, num_mel_bins), dtype=np.float32)
    frames = x.unfold(0, KALDI_FRAME, KALDI_SHIFT)  # [m, 400]
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - 0.97 * previous
    window = torch.hann_window(KALDI_FRAME, periodic=False, dtype=torch.float64).pow(0.85)
    frames = torch.nn.functional.pad(frames * window, (0, KALDI_FFT - KALDI_FRAME))  # [m, 512]
    power = torch.fft.rfft(frames).abs().pow(2)  # [m, 257]
    energies = power @ _kaldi_mel_banks(num_mel_bins).T  # [m, num_mel_bins]
    return torch.clamp(energies, min=KALDI_EPS).log().numpy().astype(np.float32)
