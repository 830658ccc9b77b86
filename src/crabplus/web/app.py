"""The Gradio page of ``crabplus serve``: upload a video (and a separate audio, or a second video / audio
for matching), pick a task or type a free question, and see the answer, the structured prediction, the
mask over the frame (segmentation), the events on a timeline (localisation) and the routing: the answer's
tokens coloured by their I-LoRA head weights per layer.

The notes ``crabplus predict`` prints for the same input show under the prediction (a silent track used, a
squashed frame, a free-form question); the mask overlay is shown at the source's aspect ratio.
Input problems raise ``gr.Error`` with the message ``crabplus predict`` prints for the same input
(:class:`~crabplus.infer.PredictInputError`, :class:`~crabplus.data.media.MediaError`). One model, one
worker: the queue runs one request at a time (``default_concurrency_limit=1``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crabplus.schema.registry import DATASETS, FREE_QUESTION_DATASET

FREE_QUESTION = f"free question ({FREE_QUESTION_DATASET})"
#: The task dropdown: "<name> — <task type>: <real dataset>", plus the free question.
TASK_CHOICES = [FREE_QUESTION] + [f"{n} — {s.task}: {s.real_name}" for n, s in DATASETS.items()]


def task_name(choice: str) -> str:
    return FREE_QUESTION_DATASET if choice == FREE_QUESTION else choice.split(" — ", 1)[0]


def _options(text: str | None) -> list[str] | None:
    items = [o.strip() for o in (text or "").replace("\n", ",").split(",") if o.strip()]
    return items or None


class DemoInputError(ValueError):
    """What the page shows as an error: the same text the CLI prints after ``error:``."""


def run_request(
    predictor,
    out_dir: Path,
    choice: str,
    video: str | None,
    audio: str | None = None,
    video2: str | None = None,
    audio2: str | None = None,
    question: str | None = None,
    options: str | None = None,
    expression: str | None = None,
    max_new_tokens: int = 128,
) -> dict[str, Any]:
    """Answer one request; returns the page's outputs (answer, prediction, overlay, timeline, routing HTML)."""
    from PIL import Image

    from crabplus.data.media import MediaError
    from crabplus.infer import PredictInputError, build_record, write_mask
    from crabplus.infer.single import _frame, free_form, media_duration, source_size
    from crabplus.schema.registry import get_spec
    from crabplus.tasks.families import family_of
    from crabplus.tasks.parsers import parse_prediction
    from crabplus.web.answer import answer_with_routing
    from crabplus.web.views import at_aspect, overlay, routing_html, timeline_html

    if not video:
        raise DemoInputError("upload a video (or, for image tasks, a still image with an audio file)")
    task = task_name(choice)
    opts = _options(options)
    try:
        record, root = build_record(
            task,
            video,
            audio=audio or None,
            video2=video2 or None,
            audio2=audio2 or None,
            question=(question or None),
            options=opts,
            expression=expression or None,
        )
        answer = answer_with_routing(predictor, record, root, max_new_tokens=max_new_tokens)
        prediction = parse_prediction(record.dataset, answer.text, options=opts)
        prediction.notes[:0] = answer.notes  # as crabplus predict: media notes, then the parser's, then the rest
        if free_form(get_spec(task), question or None):
            prediction.notes.append(
                "free-form question: the answer is the model's text; the task's format may not apply"
            )
        result: dict[str, Any] = {
            "answer": answer.text,
            "prediction": {k: v for k, v in prediction.to_json().items() if v is not None and v != []},
            "overlay": None,
            "timeline": "",
            "routing": routing_html(answer),
            "notes": prediction.notes,
        }
        if family_of(record.dataset).segments:  # the family's answers become masks (not ARIG's boxes)
            mask_path = write_mask(record, root, prediction, out_dir)  # may add notes (a squashed frame, no box)
            width, height = source_size(record, root)
            with Image.open(mask_path) as png:
                mask = np.asarray(png.convert("L").resize((224, 224), Image.Resampling.NEAREST)) > 127  # [224, 224]
            drawn = overlay(_frame(record, root), mask, prediction.box, prediction.points)  # the model's 224 space
            result["overlay"] = at_aspect(drawn, width, height)
        if record.task == "localization":
            tracks = {
                "events": prediction.events,
                "audio_events": prediction.audio_events,
                "visual_events": prediction.visual_events,
            }
            result["timeline"] = timeline_html(tracks, media_duration(root / record.media.video))
    except (PredictInputError, MediaError) as exc:
        raise DemoInputError(str(exc)) from None
    return result


def build_demo(predictor, *, title: str = "Crab+ demo", max_new_tokens: int = 128):
    """The ``gr.Blocks`` page around a loaded :class:`~crabplus.infer.Predictor`."""
    import gradio as gr

    out_dir = Path(tempfile.mkdtemp(prefix="crabplus-serve-"))

    def respond(choice, video, audio, video2, audio2, question, options, expression):
        try:
            r = run_request(
                predictor,
                out_dir,
                choice,
                video,
                audio,
                video2,
                audio2,
                question,
                options,
                expression,
                max_new_tokens=max_new_tokens,
            )
        except DemoInputError as exc:
            raise gr.Error(str(exc)) from None
        image = r["overlay"] if isinstance(r["overlay"], np.ndarray) else None
        notes = "\n".join(f"- note: {n}" for n in r["notes"])
        return (
            r["answer"],
            r["prediction"],
            gr.update(value=notes, visible=bool(notes)),
            gr.update(value=image, visible=image is not None),
            gr.update(value=r["timeline"], visible=bool(r["timeline"])),
            r["routing"],
        )

    with gr.Blocks(title=title, analytics_enabled=False) as demo:  # no telemetry, no version check
        gr.Markdown(
            f"# {title}\nUpload a video with its sound, pick a task (or type a free question) and run. "
            "The routing panel colours each answer token by the I-LoRA router's head weights per layer."
        )
        with gr.Row():
            with gr.Column():
                task = gr.Dropdown(TASK_CHOICES, value=TASK_CHOICES[1], label="task", elem_id="crab-task")
                video = gr.Video(
                    label="video (or a still image for image tasks)", sources=["upload"], elem_id="crab-video"
                )
                with gr.Accordion("more inputs (separate audio, matching, question, options, expression)", open=False):
                    audio = gr.Audio(
                        label="audio (default: the video's own track)",
                        type="filepath",
                        sources=["upload"],
                        elem_id="crab-audio",
                    )
                    video2 = gr.Video(label="second video (a2v)", sources=["upload"], elem_id="crab-video2")
                    audio2 = gr.Audio(
                        label="second audio (v2a, with audio)",
                        type="filepath",
                        sources=["upload"],
                        elem_id="crab-audio2",
                    )
                question = gr.Textbox(label="question (avqa, avqa_thu, free question)", elem_id="crab-question")
                options = gr.Textbox(label="options, comma-separated (avqa_thu)", elem_id="crab-options")
                expression = gr.Textbox(label="object to find (ref_avs)", elem_id="crab-expression")
                run = gr.Button("Run", variant="primary", elem_id="crab-run")
            with gr.Column():
                answer = gr.Textbox(label="answer", elem_id="crab-answer", interactive=False)
                prediction = gr.JSON(label="structured prediction", elem_id="crab-prediction")
                notes = gr.Markdown(visible=False, elem_id="crab-notes")  # the notes crabplus predict prints
                image = gr.Image(label="mask on the frame", visible=False, elem_id="crab-overlay", interactive=False)
                timeline = gr.HTML(visible=False, elem_id="crab-timeline")
                routing = gr.HTML(label="routing", elem_id="crab-routing")
        run.click(
            respond,
            [task, video, audio, video2, audio2, question, options, expression],
            [answer, prediction, notes, image, timeline, routing],
        )
    demo.queue(default_concurrency_limit=1)
    return demo
