"""Small real media files for tests and benchmarks: H.264 + AAC MP4s, WAV, MP3 and PNG, written with PyAV/PIL.

Frame ``i`` of a clip is a flat grey of level ``frame_level(i)`` (big flat areas survive H.264 intact, so a
test can tell which frame it got back); the audio is a sine of ``freq`` Hz with amplitude ``amp`` on the
first channel and ``amp * right_gain`` on the others. Nothing here is used by the pipeline itself.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def frame_level(i: int, n: int) -> int:
    """Grey level of frame ``i`` of ``n``: evenly spread over 16..240."""
    return int(round(16 + 224 * i / max(n - 1, 1)))


def sine(
    seconds: float, rate: int, channels: int = 1, freq: float = 440.0, amp: float = 0.5, right_gain: float = 1.0
) -> np.ndarray:
    """float32 [channels, samples]."""
    t = np.arange(int(round(seconds * rate))) / rate
    s = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([s] + [s * right_gain] * (channels - 1))


def write_clip(
    path: str | Path,
    *,
    seconds: float = 2.0,
    fps: int = 10,
    width: int = 64,
    height: int = 48,
    sample_rate: int = 44100,
    channels: int = 2,
    freq: float = 440.0,
    video: bool = True,
    audio: bool = True,
    frame_times: list[float] | None = None,
    faststart: bool = False,
    textured: bool = False,
) -> Path:
    """An MP4 (H.264 yuv420p + AAC). ``frame_times`` (seconds) gives a variable frame rate instead of ``fps``.

    ``textured`` adds a moving random texture (for benchmarks: flat frames cost the decoder nearly nothing).
    """
    path = Path(path)
    options = {"movflags": "+faststart"} if faststart else {}
    times = frame_times if frame_times is not None else [i / fps for i in range(int(round(seconds * fps)))]
    with av.open(str(path), "w", format="mp4", options=options) as out:
        if video:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.options = {"preset": "ultrafast"}
            tb = Fraction(1, 1000)
            vs.codec_context.time_base = tb
        if audio:
            ast = out.add_stream("aac", rate=sample_rate)
            ast.layout = "mono" if channels == 1 else "stereo"
        texture = np.random.default_rng(0).integers(-40, 40, (height, 2 * width, 3)) if textured else None
        if video:
            for i, t in enumerate(times):
                img = np.full((height, width, 3), frame_level(i, len(times)), dtype=np.uint8)
                if texture is not None:
                    moved = texture[:, 2 * i % width : 2 * i % width + width]
                    img = np.clip(img.astype(np.int64) + moved, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts, frame.time_base = int(round(t * 1000)), tb
                for packet in vs.encode(frame):
                    out.mux(packet)
            for packet in vs.encode():
                out.mux(packet)
        if audio:
            data = sine(seconds, sample_rate, 1 if channels == 1 else 2, freq)
            frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=ast.layout.name)
            frame.sample_rate, frame.pts = sample_rate, 0
            for packet in ast.encode(frame):
                out.mux(packet)
            for packet in ast.encode():
                out.mux(packet)
    return path


def _write_audio(path: Path, fmt: str, codec: str, sample_fmt: str, data: np.ndarray, rate: int) -> Path:
    layouts = {1: "mono", 2: "stereo", 6: "5.1"}
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = layouts[data.shape[0]]
        _encode_audio(out, stream, data, rate, sample_fmt)
    return path


def _encode_audio(out, stream, data: np.ndarray, rate: int, sample_fmt: str) -> None:
    """Encode float32 ``data`` [channels, samples] into ``stream`` as ``sample_fmt`` and flush it."""
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(data, dtype=np.float32), format="fltp", layout=stream.layout.name
    )
    frame.sample_rate, frame.pts = rate, 0
    resampler = av.AudioResampler(format=sample_fmt, layout=stream.layout.name, rate=rate)
    for converted in resampler.resample(frame):
        for packet in stream.encode(converted):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def write_wav(path: str | Path, data: np.ndarray, rate: int) -> Path:
    """16-bit PCM WAV of float32 ``data`` [channels, samples] (1, 2 or 6 channels)."""
    return _write_audio(Path(path), "wav", "pcm_s16le", "s16", data, rate)


def write_mp3(path: str | Path, data: np.ndarray, rate: int) -> Path:
    """MP3 (LAME) of float32 ``data`` [channels, samples] (1 or 2 channels)."""
    return _write_audio(Path(path), "mp3", "libmp3lame", "fltp", data, rate)


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """PNG of uint8 ``image`` [H, W, 3] (RGB) or [H, W, 4] (RGBA)."""
    Image.fromarray(image).save(path)
    return Path(path)


def write_mov_pcm(
    path: str | Path,
    *,
    seconds: float = 2.0,
    fps: int = 10,
    width: int = 64,
    height: int = 48,
    sample_rate: int = 48000,
    channels: int = 2,
    bits: int = 16,
) -> Path:
    """A QuickTime MOV with H.264 video and 16- or 24-bit PCM audio (``pcm_s16le``, ``pcm_s24le``: what editors
    and pro cameras write), the layout of many camera files: its index counts audio *samples*, not packets."""
    path = Path(path)
    with av.open(str(path), "w", format="mov") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        ast = out.add_stream(f"pcm_s{bits}le", rate=sample_rate)
        ast.layout = "mono" if channels == 1 else "stereo"
        n = int(round(seconds * fps))
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), frame_level(i, n), np.uint8), format="rgb24")
            frame.pts = i
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        _encode_audio(out, ast, sine(seconds, sample_rate, channels), sample_rate, "s16" if bits == 16 else "s32")
    return path
