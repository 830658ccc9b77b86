"""The pictures and example records of docs/avsynth.md, generated (never hand-edited).

    python -m crabplus.synth.gallery --images docs/images --markdown /tmp/avsynth_examples.md

Renders a small AVSynth set, then writes for each dataset one picture (a decoded MP4 frame, or the PNG
frame with its ground-truth mask, box and points) as ``avsynth_<dataset>.png``, an overview of the
world (``avsynth_world.png``: every object class and every face) and of the sounds
(``avsynth_sounds.png``: a spectrogram of the class tones), and the Markdown of the example records.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from crabplus.schema.geometry import SPACE
from crabplus.schema.records import Record, load_records
from crabplus.synth.config import SynthConfig
from crabplus.synth.draw import render_frame
from crabplus.synth.face import render_face, sample_emotion_scene
from crabplus.synth.generate import generate
from crabplus.synth.mediaio import write_png
from crabplus.synth.scene import Scene, SceneObject
from crabplus.synth.sound import class_tone, fade
from crabplus.synth.world import COLOUR_NAMES, EMOTIONS, SHAPE_NAMES, class_name

_SHOW = 168  # pixels per picture in the docs (3x a 56-pixel frame)


def _big(img: np.ndarray) -> np.ndarray:
    return cv2.resize(img, (_SHOW, _SHOW), interpolation=cv2.INTER_NEAREST)


def _middle_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return frames[len(frames) // 2]


def picture(root: Path, rec: Record) -> np.ndarray:
    """What the docs show for a record: video frame(s), or the frame beside its annotated copy."""
    m = rec.media
    if m.image is None:
        frames = [_big(_middle_frame(root / m.video))]
        if m.video2:
            frames.append(_big(_middle_frame(root / m.video2)))
        return np.concatenate(frames, axis=1)
    frame = np.asarray(Image.open(root / m.image).convert("RGB"))
    shown = _big(frame)
    marked = shown.copy()
    if rec.answer.mask:
        mask = (
            cv2.resize(np.asarray(Image.open(root / rec.answer.mask)), (_SHOW, _SHOW), interpolation=cv2.INTER_NEAREST)
            > 0
        )
        marked[mask] = (marked[mask] * 0.4 + np.array([255, 255, 255]) * 0.6).astype(np.uint8)
    s = _SHOW / SPACE
    if rec.answer.box:
        x1, y1, x2, y2 = (int(v * s) for v in rec.answer.box)
        cv2.rectangle(marked, (x1, y1), (x2 - 1, y2 - 1), (255, 255, 255), 1)
    for x, y in rec.answer.points or []:
        cv2.circle(marked, (int(x * s), int(y * s)), 3, (0, 0, 0), -1)
    return np.concatenate([shown, marked], axis=1)


def world_picture() -> np.ndarray:
    """Every object class (rows: colours, columns: shapes) and the eight faces."""
    cells = []
    for colour in COLOUR_NAMES:
        row = []
        for shape in SHAPE_NAMES:
            obj = SceneObject(class_name(colour, shape), x=0.5, y=0.5, size=0.7, visible=[(0, 1)])
            row.append(render_frame(Scene([obj], duration=1), 0.0, 56)[0])
        cells.append(np.concatenate(row, axis=1))
    classes = np.concatenate(cells, axis=0)
    rng = np.random.default_rng(0)
    faces = [render_face(sample_emotion_scene(rng, e, 4), 0.0, 56) for e in EMOTIONS]
    faces = np.concatenate([np.concatenate(faces[:4], axis=1), np.concatenate(faces[4:], axis=1)], axis=0)
    pad = np.zeros((classes.shape[0] - faces.shape[0], faces.shape[1], 3), np.uint8)
    img = np.concatenate(
        [classes, np.zeros((classes.shape[0], 8, 3), np.uint8), np.concatenate([faces, pad], axis=0)], axis=1
    )
    return cv2.resize(img, (img.shape[1] * 2, img.shape[0] * 2), interpolation=cv2.INTER_NEAREST)


def sounds_picture(sr: int = 16000) -> np.ndarray:
    """A log-frequency spectrogram (100 Hz - 8 kHz, low at the bottom) of the five timbres at one
    pitch (green: circle, square, triangle, diamond, cross), then the six pitches (circles)."""
    parts = [class_tone("green", s, sr // 2, sr) for s in SHAPE_NAMES]
    parts += [class_tone(c, "circle", sr // 2, sr) for c in COLOUR_NAMES]
    audio = np.concatenate([np.concatenate([p * fade(len(p), sr), np.zeros(sr // 10, np.float32)]) for p in parts])
    hop, n_fft = 160, 2048
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop] * np.hanning(n_fft)  # (T, n_fft)
    mag = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) + 1e-4)  # (T, n_fft/2+1) dB
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    grid = np.geomspace(100, 7900, 192)[::-1]  # (F,) rows from high to low
    spec = np.stack([np.interp(grid, freqs, row) for row in mag], axis=1)  # (F, T)
    img = np.clip((spec + 40) / 80, 0, 1)
    rgb = cv2.applyColorMap((img * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)[..., ::-1]
    return cv2.resize(rgb, (rgb.shape[1] * 2, 192), interpolation=cv2.INTER_AREA)


def example_markdown(rec: Record) -> str:
    obj = rec.to_json()
    obj["meta"] = {k: v for k, v in obj["meta"].items() if k != "scene"}
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in obj.items()]
    return "```json\n{\n" + ",\n".join(lines) + "\n}\n```\n"


def build(images: Path, seed: int = 0) -> dict[str, str]:
    """Write the pictures into ``images``; return the example-record Markdown per dataset."""
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = generate(root, SynthConfig(per_dataset=8, seed=seed), progress=False)
        for i, name in enumerate(manifest.datasets):
            train = load_records(root / name / "train.jsonl")
            rec = train[i % len(train)]  # different indices, so the emotion examples differ
            write_png(images / f"avsynth_{name}.png", picture(root, rec))
            out[name] = example_markdown(rec)
    write_png(images / "avsynth_world.png", world_picture())
    write_png(images / "avsynth_sounds.png", sounds_picture())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the docs' AVSynth pictures and example records.")
    parser.add_argument("--images", default="docs/images")
    parser.add_argument("--markdown", default=None, help="also write the example records here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    examples = build(Path(args.images), args.seed)
    text = "".join(f"### {name}\n\n{md}\n" for name, md in examples.items())
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
