"""Reading media with PyAV (and PIL for still images): frames, one frame at a second, images, 16 kHz audio.

Every way a file can be unreadable ends in a :class:`MediaError` whose message starts with the file's path
and says what is wrong; ``kind`` is a short machine-readable reason (used to count skips). What the release
does is reproduced where it is defined (the release; docs/media.md): frames sampled uniformly as the rounded
``linspace(0, n-1, N)`` over the frames of the clip, resized to a square with antialiased bicubic; audio as
16 kHz mono (the mean of the channels, as librosa does). Where it is not, we choose and say so:

- Variable frame rate: frames are sampled uniformly in *time* (nearest frame to each of N evenly spaced
  instants) instead of by index, so a VFR clip is still covered evenly. Constant-rate clips are sampled by
  index, exactly as decord does.
- Huge resolutions (more than ``max_pixels``) are refused before decoding, instead of exhausting memory.
- Only regular files are opened (a FIFO or a device would block), so nothing here can hang.
- The container's content decides, never the file extension.
- Audio headers are checked before decoding (a sample rate outside 1-384 kHz, a track over 3 h are
  refused), and a PCM track's index is compared with the samples present (a MOV lists one entry per
  sample), a compressed one's with the packets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from crabplus.data.audio_features import kaldi_fbank, whisper_log_mel
from crabplus.data.vision import resize_frames
from crabplus.utils.errors import CrabplusError

__all__ = [
    "MAX_PIXELS",
    "MediaError",
    "check_file",
    "has_streams",
    "kaldi_fbank",
    "read_audio",
    "read_frame_at",
    "read_frames",
    "read_image",
    "whisper_log_mel",
]

#: Frames larger than this (width x height) are refused: 4096 x 4096, above DCI 4K.
MAX_PIXELS = 4096 * 4096
#: Audio sample rates outside this range are refused from the header (telephone 8 kHz .. studio 384 kHz).
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384_000
#: Longest audio track read (seconds): bounds memory; the model hears at most 30 s of it anyway.
MAX_AUDIO_SECONDS = 3 * 3600
_BIG = 1920 * 1080  # decoded frames above this are resized straight away
_THREADED = 640 * 480  # frames above this are decoded with threads


class MediaError(CrabplusError):
    """A media file cannot be used. ``path`` is the file, ``kind`` a short reason, ``problem`` the detail.

    Kinds: missing, not_a_file, empty, unreadable, no_video, no_audio, truncated, corrupt, too_large,
    out_of_range (and all_bad from a dataset whose every record failed).
    """

    def __init__(self, path: str | Path, problem: str, *, kind: str = "unreadable"):
        self.path, self.problem, self.kind = str(path), problem, kind
        super().__init__(f"{path}: {problem}")


def check_file(path: str | Path) -> Path:
    """``path`` as a Path if it is a non-empty regular file, else a :class:`MediaError` saying which is wrong."""
    path = Path(path)
    if not path.exists():
        raise MediaError(path, "no such file", kind="missing")
    if not path.is_file():
        raise MediaError(path, "not a regular file", kind="not_a_file")
    if path.stat().st_size == 0:
        raise MediaError(path, "the file is empty (0 bytes)", kind="empty")
    return path


@contextmanager
def _open(path: Path) -> Iterator[av.container.InputContainer]:
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(
            path, f"cannot be opened as a media file (truncated, corrupt or not media): {exc}", kind="unreadable"
        ) from None
    try:
        yield container
    finally:
        container.close()


# --------------------------------------------------------------------------------------------
# video
# --------------------------------------------------------------------------------------------


def _video_stream(container, path: Path, max_pixels: int):
    if not container.streams.video:
        raise MediaError(path, "no video stream (an audio-only or image file?)", kind="no_video")
    stream = container.streams.video[0]
    w, h = stream.codec_context.width, stream.codec_context.height
    if w * h > max_pixels:
        raise MediaError(path, f"resolution {w}x{h} exceeds the limit of {max_pixels} pixels", kind="too_large")
    return stream


def _demux(container, stream, path: Path) -> tuple[list, np.ndarray]:
    """(every packet of the stream, presentation times in s from the first frame of the frames they make).

    Packets are kept in memory (a few MB for a clip) so the file is read once. A container whose index
    promises more frames than its data holds is truncated.
    """
    packets, pts = [], []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            packets.append(packet)
            if not packet.is_discard:  # decoded (it may be a reference) but dropped by the decoder
                ts = packet.pts if packet.pts is not None else packet.dts
                pts.append(ts if ts is not None else len(pts))
    except av.error.FFmpegError as exc:
        raise MediaError(path, f"the video stream cannot be read: {exc}", kind="corrupt") from None
    if not pts:
        raise MediaError(path, "the video stream has no frames", kind="truncated")
    if stream.frames and len(pts) < stream.frames:
        raise MediaError(
            path, f"truncated: the index lists {stream.frames} frames, only {len(pts)} are present", kind="truncated"
        )
    tb = stream.time_base or Fraction(1, 1)
    times = np.sort(np.asarray(pts, dtype=np.float64))
    return packets, (times - times[0]) * float(tb)


def _is_constant_rate(times: np.ndarray) -> bool:
    if len(times) < 3:
        return True
    d = np.diff(times)
    med = float(np.median(d))
    # 10 %: timestamps rounded to a coarse time base (33 / 34 ms at 29.97 fps) are still a constant rate
    return bool(np.all(np.abs(d - med) <= 0.1 * med + 1e-6))


def sample_indices(times: np.ndarray, num_frames: int) -> np.ndarray:
    """Indices of ``num_frames`` frames spread over the clip (see the module notes on VFR)."""
    n = len(times)
    if _is_constant_rate(times):
        return np.round(np.linspace(0, n - 1, num_frames)).astype(np.int64)
    targets = np.linspace(times[0], times[-1], num_frames)
    right = np.clip(np.searchsorted(times, targets), 1, n - 1)
    left = right - 1
    return np.where(np.abs(times[left] - targets) <= np.abs(times[right] - targets), left, right)


def _decode_selected(stream, packets: list, path: Path, wanted: list[int], size: int) -> dict[int, np.ndarray]:
    """Decode the packets and keep the frames (in presentation order) whose index is wanted, as RGB.

    Resizing waits until decoding is done (torch's threads and the decoder's would fight over the cores),
    except for frames above 1080p, resized at once to bound memory.
    """
    ctx = stream.codec_context
    if ctx.width * ctx.height <= _THREADED:
        ctx.thread_count = 1  # small frames: threads cost more CPU than they save (data-loader workers share cores)
    else:
        stream.thread_type = "AUTO"
    want = set(wanted)
    last = max(want)
    kept: dict[int, np.ndarray] = {}
    index = -1
    try:
        for packet in [*packets, None]:  # None drains the decoder
            for frame in stream.codec_context.decode(packet):
                index += 1
                if index in want:
                    rgb = frame.to_ndarray(format="rgb24")  # [H, W, 3] uint8
                    kept[index] = resize_frames(rgb[None], size)[0] if rgb.shape[0] * rgb.shape[1] > _BIG else rgb
                if index >= last:
                    return kept
    except av.error.FFmpegError as exc:
        raise MediaError(path, f"decoding failed after frame {index + 1}: {exc}", kind="corrupt") from None
    raise MediaError(
        path,
        f"truncated or corrupt: only {index + 1} frames could be decoded, frame {last + 1} was needed",
        kind="truncated",
    )


def _resize_all(kept: dict[int, np.ndarray], order: list[int], size: int) -> np.ndarray:
    """uint8 [len(order), size, size, 3] from decoded frames (native or already resized)."""
    by_shape: dict[tuple, list[int]] = {}
    for i in kept:
        by_shape.setdefault(kept[i].shape, []).append(i)
    small: dict[int, np.ndarray] = {}
    for idx in by_shape.values():  # one batched resize per frame size (normally a single one)
        resized = resize_frames(np.stack([kept[i] for i in idx]), size)
        small.update(zip(idx, resized))
    return np.stack([small[i] for i in order])


def read_frames(path: str | Path, num_frames: int, size: int = 224, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """uint8 [num_frames, size, size, 3] RGB frames sampled uniformly over the whole clip."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    path = check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path, max_pixels)
        packets, times = _demux(container, stream, path)
        idx = sample_indices(times, num_frames).tolist()
        kept = _decode_selected(stream, packets, path, sorted(set(idx)), size)
    return _resize_all(kept, idx, size)


def read_frame_at(path: str | Path, second: float, size: int, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """uint8 [size, size, 3]: the frame on screen at ``second`` (from the clip's first frame)."""
    path = check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path, max_pixels)
        packets, times = _demux(container, stream, path)
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        end = times[-1] + step
        if not math.isfinite(second) or second < 0 or second > end + 1e-6:
            raise MediaError(path, f"second {second} is outside the clip [0, {end:.3f}]", kind="out_of_range")
        index = max(int(np.searchsorted(times, second + 1e-6, side="right")) - 1, 0)
        kept = _decode_selected(stream, packets, path, [index], size)
    return _resize_all(kept, [index], size)[0]


def read_image(path: str | Path, size: int, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """uint8 [size, size, 3] from an image file: RGB (transparency over white, as the release), PIL bicubic."""
    path = check_file(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise MediaError(path, f"resolution {w}x{h} exceeds the limit of {max_pixels} pixels", kind="too_large")
            img.load()
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                rgb = Image.new("RGB", rgba.size, (255, 255, 255))
                rgb.paste(rgba, mask=rgba.split()[3])
            else:
                rgb = img.convert("RGB")
            rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
            return np.asarray(rgb, dtype=np.uint8).copy()
    except MediaError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(
            path, f"cannot be read as an image (truncated, corrupt or not an image): {exc}", kind="unreadable"
        ) from None


# --------------------------------------------------------------------------------------------
# audio
# --------------------------------------------------------------------------------------------


def _resample(mono: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """float32 mono [n] at ``rate_in`` -> [round(n * rate_out / rate_in)] with libswresample."""
    frame = av.AudioFrame.from_ndarray(mono[None, :], format="fltp", layout="mono")
    frame.sample_rate = rate_in
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate_out)
    chunks = [f.to_ndarray()[0] for f in resampler.resample(frame)]
    chunks += [f.to_ndarray()[0] for f in resampler.resample(None)]  # flush the filter's tail
    out = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    n_out = int(round(len(mono) * rate_out / rate_in))
    if len(out) < n_out:
        out = np.pad(out, (0, n_out - len(out)))
    return out[:n_out]


def _check_audio_header(stream, path: Path) -> int:
    """The stream's sample rate from its header, refused when implausible, and its claimed length
    refused when too long — before anything is decoded (a WAV claiming 1 Hz would otherwise be
    resampled to hundreds of millions of samples)."""
    rate = int(stream.codec_context.sample_rate or stream.rate or 0)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise MediaError(
            path,
            f"the audio header claims a sample rate of {rate} Hz; expected "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz (a damaged or forged header?)",
            kind="corrupt",
        )
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
        if seconds > MAX_AUDIO_SECONDS:
            raise MediaError(
                path,
                f"the audio track claims {seconds:.0f} s; at most {MAX_AUDIO_SECONDS} s are read (cut the file first)",
                kind="too_large",
            )
    return rate


_PCM_BITS = re.compile(r"^pcm_[suf](\d+)")


def _present_units(stream, packets: list) -> int:
    """What ``stream.frames`` counts, counted in the demuxed packets: samples for PCM (a MOV index lists
    one entry per sample), packets for every compressed codec.

    A sample's size on disk comes from the codec's name (``pcm_s24le``: 3 bytes), not from the decoded
    sample format, which widens 24-bit samples to 32 bits (counting 4 bytes each made every 24-bit PCM
    MOV, what editors and pro cameras write, look truncated by exactly 3/4)."""
    ctx = stream.codec_context
    if ctx.name.startswith("pcm_") and ctx.format is not None and ctx.channels:
        bits = _PCM_BITS.match(ctx.name)
        width = int(bits.group(1)) // 8 if bits else ctx.format.bytes  # alaw/mulaw: 1 byte, as decoded
        if not bits and ctx.name in ("pcm_alaw", "pcm_mulaw"):
            width = 1
        block = width * ctx.channels
        return sum(p.size for p in packets) // max(block, 1)
    return len(packets)


def has_streams(path: str | Path) -> tuple[bool, bool, float | None]:
    """(has a video stream, has an audio track, seconds or None) from the container's header alone."""
    path = check_file(path)
    with _open(path) as container:
        seconds = container.duration / av.time_base if container.duration is not None else None
        return bool(container.streams.video), bool(container.streams.audio), seconds


def read_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """float32 mono [samples] in [-1, 1] at ``sample_rate``: a video's own track or an audio file, any rate
    and channel count (channels are averaged, then resampled).

    The header's sample rate and length are checked before decoding; each decoded frame is reduced to mono
    at once (a long stereo track is not held twice), and decoding stops after ``MAX_AUDIO_SECONDS``.
    """
    path = check_file(path)
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(path, "no audio track", kind="no_audio")
        stream = container.streams.audio[0]
        rate_in = _check_audio_header(stream, path)
        to_float = av.AudioResampler(format="fltp")  # keeps layout and rate; only the sample format changes
        chunks: list[np.ndarray] = []
        n_samples = 0
        try:
            packets = [p for p in container.demux(stream) if p.size]
            present = _present_units(stream, packets)
            if stream.frames and present < stream.frames:
                raise MediaError(
                    path,
                    f"truncated: the index lists {stream.frames} audio "
                    f"{'samples' if stream.codec_context.name.startswith('pcm_') else 'packets'}, only "
                    f"{present} are present",
                    kind="truncated",
                )
            for packet in [*packets, None]:  # None flushes the decoder
                for frame in stream.codec_context.decode(packet):
                    rate_in = frame.sample_rate
                    planes = [frame] if frame.format.name == "fltp" else to_float.resample(frame)
                    for f in planes:
                        mono = f.to_ndarray().mean(axis=0, dtype=np.float32)  # [C, n] -> [n]
                        chunks.append(mono)
                        n_samples += len(mono)
                if rate_in and n_samples > MAX_AUDIO_SECONDS * rate_in:
                    raise MediaError(
                        path,
                        f"the audio track is longer than {MAX_AUDIO_SECONDS} s (cut the file first)",
                        kind="too_large",
                    )
            chunks.extend(f.to_ndarray().mean(axis=0, dtype=np.float32) for f in to_float.resample(None))
        except av.error.FFmpegError as exc:
            raise MediaError(path, f"decoding the audio track failed: {exc}", kind="corrupt") from None
    if not chunks or sum(len(c) for c in chunks) == 0:
        raise MediaError(path, "the audio track has no samples", kind="no_audio")
    mono = np.concatenate(chunks).astype(np.float32, copy=False)  # [n]
    del chunks
    if not rate_in:
        raise MediaError(path, "the audio track has no sample rate", kind="corrupt")
    if not MIN_SAMPLE_RATE <= rate_in <= MAX_SAMPLE_RATE:
        raise MediaError(
            path,
            f"the decoded audio has a sample rate of {rate_in} Hz; expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz",
            kind="corrupt",
        )
    if rate_in != sample_rate:
        mono = _resample(mono, int(rate_in), sample_rate)
    return np.clip(mono, -1.0, 1.0, out=mono)
