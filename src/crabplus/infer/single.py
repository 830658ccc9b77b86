"""Answering one task on one's own video: the record is built from the arguments, then the same
pipeline as evaluation runs (processor -> generate -> parser), plus the mask for segmentation tasks.

Media paths in records are relative to a data root, so the root is the deepest folder holding every
given file. Image tasks (S4, MS3, Ref-AVS, ARIG) take a still image, or a video and the second of
the frame to use (default: the middle of the clip); their one-fifth / one-tenth audio window is
the part of the clip that frame falls in, as in the benchmarks.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from crabplus.schema.geometry import SPACE
from crabplus.schema.records import Answer, Media, Record
from crabplus.schema.registry import get_spec
from crabplus.tasks.formats import render_instruction
from crabplus.utils.errors import CrabplusError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
FRAME = SPACE  # the model's coordinates (and the masks we write) are in 224-pixel space


class PredictInputError(CrabplusError, ValueError):
    """The arguments cannot make a record for the task (a missing file, question or second video).
    ``flag`` names the command-line flag at fault when there is one (it is then every input's problem)."""

    def __init__(self, message: str, *, flag: str | None = None):
        super().__init__(message)
        self.flag = flag

    exit_code = 2


@dataclass
class PredictResult:
    dataset: str
    text: str  # what the model wrote
    prediction: Any  # crabplus.tasks.parsers.Prediction
    record: Record
    mask_path: Path | None = None
    routing: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        pred = self.prediction.to_json()
        return {
            "dataset": self.dataset,
            "text": self.text,
            "prediction": pred,
            "mask": str(self.mask_path) if self.mask_path else None,
            "routing": self.routing,
        }


def media_duration(path: Path) -> float:
    """Seconds of a media file (container duration, else its first stream's)."""
    from crabplus.data.media import MediaError, check_file

    check_file(path)
    try:
        with av.open(str(path)) as container:
            if container.duration is not None:
                seconds = container.duration / av.time_base
            else:
                stream = container.streams[0] if container.streams else None
                seconds = (
                    float(stream.duration * stream.time_base)
                    if stream is not None and stream.duration is not None and stream.time_base is not None
                    else None
                )
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(path, f"cannot be read as media: {exc}") from exc
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise MediaError(path, "the file does not say how long it is", kind="corrupt")
    return seconds


FLAGS = {"video": "VIDEO", "audio": "--audio", "video2": "--video2", "audio2": "--audio2"}


def _files(**paths: str | Path | None) -> dict[str, Path]:
    out = {}
    for name, value in paths.items():
        if value is None:
            continue
        try:
            path = Path(value).resolve(strict=True)
        except RuntimeError:  # Python < 3.13 reports a symlink loop so
            raise PredictInputError(f"{FLAGS[name]} {value}: a symbolic link loop") from None
        except FileNotFoundError:
            raise PredictInputError(f"{FLAGS[name]} {value}: file not found") from None
        except OSError as exc:  # a symlink loop (ELOOP), a folder we may not enter
            raise PredictInputError(f"{FLAGS[name]} {value}: {exc.strerror or 'cannot be resolved'}") from None
        if not path.is_file():
            raise PredictInputError(f"{FLAGS[name]} {value}: not a file")
        out[name] = path
    return out


def free_form(spec, question: str | None) -> bool:
    """A question for a task whose instruction asks none: it replaces the instruction (free form)."""
    return question is not None and "{question}" not in spec.instruction


def build_record(
    task: str,
    video: str | Path,
    *,
    audio=None,
    video2=None,
    audio2=None,
    question=None,
    options=None,
    expression=None,
    frame_second=None,
    system_prompt=None,
) -> tuple[Record, Path]:
    """The record (and its data root) that asks ``task`` about these files. With a ``question`` the task
    does not ask for, the question itself is the instruction (a free-form question). ``system_prompt``
    replaces the default system message (a chat's own, :mod:`crabplus.infer.chat`)."""
    try:
        spec = get_spec(task)
    except KeyError as exc:
        raise PredictInputError(str(exc.args[0]), flag="--task") from None
    if frame_second is not None and (not math.isfinite(float(frame_second)) or frame_second < 0):
        raise PredictInputError(
            f"--frame-second {frame_second}: need a finite number of seconds >= 0", flag="--frame-second"
        )
    if question is not None and not question.strip():
        raise PredictInputError("--question is empty", flag="--question")
    if "{question}" in spec.instruction and not question:
        raise PredictInputError(f"task {task!r} needs --question", flag="--question")
    if "{options}" in spec.instruction and not options:
        raise PredictInputError(f"task {task!r} needs --options", flag="--options")
    if "{expression}" in spec.instruction and not expression:
        raise PredictInputError(f"task {task!r} needs --expression (the object to find)", flag="--expression")
    if spec.visual == "two_videos" and (video2 is None or audio is None):
        raise PredictInputError(
            f"task {task!r} matches a sound to one of two videos: give the sound with --audio "
            "and the second candidate video with --video2 (VIDEO is the first)",
            flag="--audio" if audio is None else "--video2",
        )
    if spec.two_audios and (audio is None or audio2 is None):
        raise PredictInputError(
            f"task {task!r} matches a video to one of two sounds: give --audio and --audio2",
            flag="--audio" if audio is None else "--audio2",
        )
    files = _files(video=video, audio=audio, video2=video2, audio2=audio2)
    root = Path(os.path.commonpath([str(p.parent) for p in files.values()]))
    rel = {k: str(p.relative_to(root)) for k, p in files.items()}
    media = Media(video=rel.get("video"), audio=rel.get("audio"), video2=rel.get("video2"), audio2=rel.get("audio2"))
    if spec.visual == "image":
        is_image = files["video"].suffix.lower() in IMAGE_SUFFIXES
        if is_image:
            media.image, media.video = rel["video"], None
            if media.audio is None:
                raise PredictInputError(f"task {task!r} on a still image needs --audio", flag="--audio")
            timed = files["audio"]
            second = float(frame_second) if frame_second is not None else 0.0
        else:
            timed = files["video"]
        duration = media_duration(timed)
        if not is_image:
            second = float(frame_second) if frame_second is not None else duration / 2
            media.frame_second = second
        parts = {"one_fifth": 5, "one_tenth": 10}.get(spec.audio_window)
        if parts is not None:
            media.audio_window_index = min(parts - 1, max(0, int(second / (duration / parts))))
    if free_form(spec, question):
        instruction = question.strip()
    else:
        instruction = render_instruction(spec, question=question, options=options, expression=expression)
    answer = Answer(options=list(options)) if options else Answer()
    record = Record(
        id=f"predict-{files['video'].stem}",
        dataset=spec.name,
        task=spec.task,
        split="test",
        media=media,
        instruction=instruction,
        answer=answer,
        target="",
        meta={"system_prompt": system_prompt} if system_prompt else {},
    )
    return record, root


def _frame(record: Record, root: Path) -> np.ndarray:
    """The image the model looked at, at 224 × 224 (uint8 RGB)."""
    from crabplus.data.media import read_frame_at, read_image

    if record.media.image is not None:
        return read_image(root / record.media.image, FRAME)
    return read_frame_at(root / record.media.video, record.media.frame_second or 0.0, FRAME)


def source_size(record: Record, root: Path) -> tuple[int, int]:
    """(width, height) of the picture the frame was taken from: masks go back to this size."""
    from PIL import Image

    from crabplus.data.media import MediaError

    path = root / (record.media.image if record.media.image is not None else record.media.video)
    try:
        if record.media.image is not None:
            with Image.open(path) as img:
                return img.size
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return int(stream.codec_context.width), int(stream.codec_context.height)
    except (OSError, IndexError, av.error.FFmpegError) as exc:
        raise MediaError(path, f"cannot read the picture size ({exc})") from exc


def write_mask(
    record: Record,
    root: Path,
    prediction,
    out_dir: Path,
    *,
    segmenter: str = "grabcut",
    sam2_checkpoint: str | None = None,
) -> Path:
    """Segment the frame with the predicted box/points and write the mask PNG (0/255) at the source's size.

    The model looks at the frame squashed to 224 × 224, and its box and points live in that space; the
    mask is made there and scaled back (nearest neighbour) to the video's or image's own width and
    height, so it overlays the user's frame. Notes on ``prediction`` say when the frame was not square
    and when the answer held no box or points (the mask is then empty, not a silent black image).
    Ref-AVS's "false" (object absent) gives an empty mask, as the release scores it.
    """
    from PIL import Image

    from crabplus.segment import build_segmenter
    from crabplus.utils.io import atomic_write

    image = _frame(record, root)  # [224, 224, 3]
    width, height = source_size(record, root)
    absent = prediction.exists is False
    if absent:
        mask = np.zeros(image.shape[:2], dtype=bool)
    elif prediction.box is None and not prediction.points:
        mask = np.zeros(image.shape[:2], dtype=bool)
        prediction.notes.append("the answer holds no box or points: the mask is empty")
    else:
        seg = build_segmenter(segmenter, sam2_checkpoint)
        mask = seg.segment(image, prediction.box, prediction.points)
    if width != height:
        prediction.notes.append(
            f"the model saw the {width}x{height} frame squashed to {FRAME}x{FRAME}; "
            f"the mask is scaled back to {width}x{height}"
        )
    stem = record.id.removeprefix("predict-")
    path = Path(out_dir) / f"{stem}.{record.dataset}.mask.png"
    png = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
    if (width, height) != (FRAME, FRAME):
        png = png.resize((width, height), Image.Resampling.NEAREST)
    return atomic_write(path, lambda tmp: png.save(tmp, format="PNG"))


def predict(
    video: str | Path | None = None,
    *,
    task: str | None = None,
    checkpoint=None,
    audio=None,
    video2=None,
    audio2=None,
    question: str | None = None,
    options: list[str] | None = None,
    expression: str | None = None,
    frame_second: float | None = None,
    out: str | Path | None = None,
    max_new_tokens: int | None = None,
    segmenter: str = "grabcut",
    sam2_checkpoint: str | None = None,
    predictor=None,
    device=None,
    base: str | Path | None = None,
    system_prompt: str | None = None,
    messages=None,
) -> PredictResult:
    """Answer ``task`` (a dataset name, e.g. ``ks``, ``ave``, ``s4``) on a video with the model of
    ``checkpoint`` (a folder) or an already loaded ``predictor``. A task whose answers become masks (its family
    ``segments``) also writes the mask PNG into ``out`` (default: the current folder); with ``out``, the result
    JSON goes there too. ``max_new_tokens`` None: the task's default (:data:`crabplus.tasks.families.ANSWER_TOKENS`).

    ``messages``: Qwen2.5-Omni chat messages instead of ``video`` and the media arguments
    (:mod:`crabplus.infer.chat`); the answer equals the ``task`` call on the same files."""
    from crabplus.infer.batch import predict_batch
    from crabplus.infer.predictor import as_predictor
    from crabplus.tasks.families import family_of
    from crabplus.tasks.parsers import parse_prediction

    if predictor is None and checkpoint is None:
        raise PredictInputError("give a checkpoint folder (--checkpoint)")
    chat_notes: list[str] = []
    if messages is not None:
        from crabplus.infer.chat import messages_arguments

        if video is not None:
            raise PredictInputError("give a video or messages, not both")
        asked, chat_notes = messages_arguments(messages, task, options)
        task, video, audio, video2, audio2 = (asked[k] for k in ("task", "video", "audio", "video2", "audio2"))
        question, expression = asked.get("question"), asked.get("expression")
        system_prompt = asked.get("system_prompt", system_prompt)
    if video is None or task is None:
        raise PredictInputError("give a video and a task (or chat messages)")
    record, root = build_record(
        task,
        video,
        audio=audio,
        video2=video2,
        audio2=audio2,
        question=question,
        options=options,
        expression=expression,
        frame_second=frame_second,
        system_prompt=system_prompt,
    )
    if predictor is None:
        from crabplus.infer.predictor import Predictor

        predictor = Predictor.from_checkpoint(checkpoint, device=device, base=base)
    predictor = as_predictor(predictor)
    row = predict_batch(predictor, [record], root, max_new_tokens=max_new_tokens, record_routing=True)[0]
    prediction = parse_prediction(record.dataset, row.predict, options=options)
    prediction.notes[:0] = row.notes  # media completed (no audio track, audio only, long)
    if free_form(get_spec(task), question):
        prediction.notes.append("free-form question: the answer is the model's text; the task's format may not apply")
    prediction.notes.extend(chat_notes)
    result = PredictResult(record.dataset, row.predict, prediction, record, routing=row.routing)
    out_dir = Path(out) if out is not None else Path.cwd()
    if family_of(record.dataset).segments:  # the family's answers become masks (not ARIG's boxes)
        result.mask_path = write_mask(
            record, root, prediction, out_dir, segmenter=segmenter, sam2_checkpoint=sam2_checkpoint
        )
    if out is not None:
        from crabplus.utils.io import atomic_write_json

        stem = record.id.removeprefix("predict-")
        atomic_write_json(out_dir / f"{stem}.{record.dataset}.json", json.loads(json.dumps(result.to_json())))
    return result
