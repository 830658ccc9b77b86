"""Shared pieces of the import tests: a data root built from the hand-written release fixtures
(``tests/fixtures/avuie/AVUIE_2``) with tiny real media generated here (PyAV video/audio, numpy WAV,
PIL frames and masks in the modes the benchmarks use), and the paths of the benchmark fixtures.

Media files whose name contains ``missing`` are deliberately not created (the missing-media case). The
session fixtures ``media_templates`` and ``data_root`` are imported by name into the test files that use them.
"""

from __future__ import annotations

import json
import shutil
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RELEASE = FIXTURES / "avuie" / "AVUIE_2"
BENCH = FIXTURES / "benchmarks"
IMAGE_TASKS = ("s4", "ms3", "arig", "ref_avs")

# ground-truth masks: path under the root -> (PNG mode, (height, width) of the file, foreground box
# [x1, y1, x2, y2] in file pixels, inclusive; None = empty mask)
MASKS = {
    "AVUIE_2/s4/AVS/v1s/-0cKQbXYGQs_0_5/labels_rgb/0.png": ("RGB", (224, 224), (60, 50, 150, 170)),
    "AVUIE_2/s4/AVS/v1s/-2eNmXIGvWM_10_15/labels_rgb/3.png": ("1", (224, 224), (30, 40, 190, 200)),
    "AVUIE_2/s4/AVS/v1s/-4bKhpGZsXA_0_5/labels_rgb/1.png": ("RGB", (360, 640), (200, 36, 628, 161)),
    "AVUIE_2/ms3/AVS/v1m/_3BeeL9lyYc_0_5/labels_rgb/0.png": ("P", (224, 224), (100, 20, 219, 120)),
    "AVUIE_2/ms3/AVS/v1m/_3BeeL9lyYc_0_5/labels_rgb/4.png": ("P", (224, 224), None),
    "AVUIE_2/ref_avs/REFAVS/gt_mask/--KCIeTv6PM_14000_24000/fid_0/00003.png": ("L", (224, 224), (40, 60, 120, 200)),
    "AVUIE_2/ref_avs/REFAVS/gt_mask/-0Nn4cKWLxs_0_10000/fid_1/00005.png": ("L", (448, 448), (20, 100, 219, 399)),
    "AVUIE_2/ref_avs/REFAVS/gt_mask/-3Lx7aRr2Vw_20000_30000/fid_0/00000.png": ("RGB", (224, 224), (0, 0, 111, 223)),
    "AVUIE_2/ref_avs/REFAVS/gt_mask/-3Lx7aRr2Vw_20000_30000/fid_2/00000.png": ("L", (224, 224), None),
}

#: UnAV-100 test videos of the benchmark fixture (the release ships no unav test file).
UNAV_TEST_MEDIA = (
    "AVUIE_2/unav/video/0Z9yWc3jqEs.mp4",
    "AVUIE_2/unav/audio/0Z9yWc3jqEs.mp3",
    "AVUIE_2/unav/video/1mQx5Rb8Tn0.mp4",
    "AVUIE_2/unav/audio/1mQx5Rb8Tn0.mp3",
)


def _encode(path: Path, fmt: str | None, video_codec: str | None, audio_codec: str | None) -> None:
    """A 2-frame 32x32 video and/or 0.2 s of a 440 Hz tone, really encoded (so any decoder reads it)."""
    with av.open(str(path), "w", format=fmt) as out:
        # every stream is added before the first packet is muxed (the header is written then)
        vs = out.add_stream(video_codec, rate=2) if video_codec else None
        rate = 16000 if audio_codec == "libmp3lame" else 22050
        as_ = out.add_stream(audio_codec, rate=rate, layout="mono") if audio_codec else None
        if vs is not None:
            vs.width = vs.height = 32
            vs.pix_fmt = "yuv420p"
        if vs is not None:
            for i in range(2):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 60 * i, np.uint8), format="rgb24")
                out.mux(vs.encode(frame))
            out.mux(vs.encode())
        if as_ is not None:
            t = np.arange(int(0.2 * rate)) / rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]  # [1, samples]
            frame_size = as_.codec_context.frame_size or 1152
            for start in range(0, tone.shape[1], frame_size):
                chunk = np.ascontiguousarray(tone[:, start : start + frame_size])
                if chunk.shape[1] < frame_size:
                    chunk = np.pad(chunk, ((0, 0), (0, frame_size - chunk.shape[1])))
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate = rate
                frame.pts = start
                frame.time_base = Fraction(1, rate)
                out.mux(as_.encode(frame))
            out.mux(as_.encode())


def _wav(path: Path) -> None:
    rate = 16000
    t = np.arange(int(0.2 * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * 330 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())


def make_templates(folder: Path) -> dict[str, Path]:
    """One real file per media kind, copied wherever that kind is needed."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {ext: folder / f"template{ext}" for ext in (".mp4", ".avi", ".mp3", ".wav", ".jpg")}
    _encode(out[".mp4"], "mp4", "libx264", "aac")
    _encode(out[".avi"], "avi", "mpeg4", None)
    _encode(out[".mp3"], "mp3", None, "libmp3lame")
    _wav(out[".wav"])
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(out[".jpg"])
    return out


def write_mask(
    path: Path, mode: str, shape: tuple[int, int], box: tuple[int, int, int, int] | None, black_palette: bool = False
) -> None:
    h, w = shape
    fg = np.zeros((h, w), bool)
    if box is not None:
        x1, y1, x2, y2 = box
        fg[y1 : y2 + 1, x1 : x2 + 1] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "1":
        Image.fromarray(fg).convert("1").save(path)
    elif mode == "P":
        # palette mask: index 0 background, index 1 foreground (white); with ``black_palette`` the
        # foreground colour is black too, so only reading indices (not grey levels) finds it
        img = Image.frombytes("P", (w, h), fg.astype(np.uint8).tobytes())
        img.putpalette([0, 0, 0] * 256 if black_palette else [0, 0, 0, 255, 255, 255] + [0, 0, 0] * 254)
        img.save(path)
    elif mode == "RGB":
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[fg] = (128, 0, 0)  # an AVSS-style class colour
        Image.fromarray(rgb).save(path)
    else:
        Image.fromarray(fg.astype(np.uint8) * 255).save(path)


def release_media_paths() -> list[str]:
    """Every media path the release fixtures name, joined as the release joins them (the release; docs/data.md)."""
    paths = []
    for file in sorted(RELEASE.glob("*/*.json")):
        task = file.parent.name
        for rec in json.loads(file.read_text()):
            for key, value in rec.items():
                if not key.endswith("_path"):
                    continue
                if task in IMAGE_TASKS:
                    paths.append(f"AVUIE_2/{task}/{value}")
                else:
                    sub = "video" if key.startswith("video") else "audio"
                    paths.append(f"AVUIE_2/{task}/{sub}/{value}")
    return paths


def build_root(root: Path, templates: dict[str, Path]) -> Path:
    """A data root: the release fixture JSONs, their media (except ``missing*``) and the masks."""
    shutil.copytree(RELEASE, root / "AVUIE_2")
    for rel in release_media_paths() + list(UNAV_TEST_MEDIA):
        if "missing" in rel:
            continue
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(templates[dest.suffix], dest)
    for rel, (mode, shape, box) in MASKS.items():
        write_mask(root / rel, mode, shape, box)
    return root


def gt_files():
    from crabplus.data.importers import GroundTruthFiles

    return GroundTruthFiles(
        ave_annotations=BENCH / "ave" / "Annotations.txt",
        avvp_eval_audio=BENCH / "avvp" / "AVVP_eval_audio.csv",
        avvp_eval_visual=BENCH / "avvp" / "AVVP_eval_visual.csv",
        music_avqa=[BENCH / "music_avqa" / "avqa-test.json"],
        refavs_metadata=BENCH / "refavs" / "metadata.csv",
        unav_annotations=BENCH / "unav" / "unav100_annotations.json",
    )


@pytest.fixture(scope="session")
def media_templates(tmp_path_factory) -> dict[str, Path]:
    return make_templates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def data_root(tmp_path_factory, media_templates) -> Path:
    """A data root shared by the tests that only read it."""
    return build_root(tmp_path_factory.mktemp("root"), media_templates)
