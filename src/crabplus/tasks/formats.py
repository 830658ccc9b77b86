"""Target formats: structured answer -> the tagged answer text the model learns to write.

The conventions follow the release's test ground truths and SAM 2 parser (the release; docs/data.md) and
Crab's tags for the tasks the release leaves open:

- classification, matching, QA: ``<answer>X</answer>`` (matching: the candidate number ``1``/``2``;
  multiple choice: the chosen option's text);
- AVE / UnAV: ``<event>LABEL</event><range>S,E</range>`` per event;
- AVVP: ``<audio_event>LABEL,(S E)</audio_event>`` and ``<visual_event>LABEL,(S E)</visual_event>``;
- S4 / MS3: ``<answer>LABEL</answer> [x1,y1,x2,y2] [x,y][x,y][x,y]`` (224-pixel space, no spaces
  inside brackets, as the release's regex needs);
- Ref-AVS: ``<answer>true</answer> LABEL [x1,y1,x2,y2] [x,y][x,y][x,y]`` or
  ``<answer>false</answer> The object is absent.``;
- ARIG: ``The sounding object is LABEL. Its coordinates are <obj>(x1,y1)(x2,y2)</obj>.``;
- captioning: the caption itself.

The target is the reasoning chain (when present), a space, then the tagged answer.
"""

from __future__ import annotations

from crabplus.schema.records import Answer, Event, Record
from crabplus.schema.registry import DatasetSpec, get_spec


def format_time(t: float) -> str:
    """Whole seconds print as integers (``6``), others as short as exact (``6.5``, ``3.25``)."""
    return str(int(t)) if float(t).is_integer() else f"{float(t):g}"


def _box(box: list[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in box) + "]"


def _points(points: list[list[int]]) -> str:
    return "".join(f"[{int(x)},{int(y)}]" for x, y in points)


def _events(events: list[Event]) -> str:
    return "".join(
        f"<event>{e.label}</event><range>{format_time(e.start)},{format_time(e.end)}</range>" for e in events
    )


def _modality_events(tag: str, events: list[Event]) -> str:
    return "".join(f"<{tag}>{e.label},({format_time(e.start)} {format_time(e.end)})</{tag}>" for e in events)


def render_answer(dataset: str | DatasetSpec, answer: Answer) -> str:
    """The tagged answer text for ``answer`` in ``dataset``'s format."""
    spec = get_spec(dataset) if isinstance(dataset, str) else dataset
    name = spec.name
    if spec.task in ("action", "emotion"):
        return f"<answer>{answer.label}</answer>"
    if spec.task == "matching":
        return f"<answer>{answer.choice}</answer>"
    if name == "avqa":
        return f"<answer>{answer.text}</answer>"
    if name == "avqa_thu":
        return f"<answer>{answer.options[answer.choice]}</answer>"
    if name in ("ave", "unav"):
        return _events(answer.events)
    if name == "avvp":
        return _modality_events("audio_event", answer.audio_events) + _modality_events(
            "visual_event", answer.visual_events
        )
    if name == "avcap":
        return answer.text
    if name in ("s4", "ms3"):
        if answer.box is None:  # a frame whose ground-truth mask is empty: nothing to point at
            return f"<answer>{answer.label}</answer>"
        return f"<answer>{answer.label}</answer> {_box(answer.box)} {_points(answer.points)}"
    if name == "ref_avs":
        if not answer.exists:
            return "<answer>false</answer> The object is absent."
        return f"<answer>true</answer> {answer.label} {_box(answer.box)} {_points(answer.points)}"
    if name == "arig":
        x1, y1, x2, y2 = answer.box
        return f"The sounding object is {answer.label}. Its coordinates are <obj>({x1},{y1})({x2},{y2})</obj>."
    raise KeyError(f"no answer format for dataset {name!r}")


def render_target(reasoning: str | None, answer_text: str) -> str:
    return f"{reasoning.strip()} {answer_text}" if reasoning else answer_text


def render_instruction(dataset: str | DatasetSpec, *, question: str | None = None,
                       options: list[str] | None = None, expression: str | None = None) -> str:
    """The dataset's instruction with its placeholders filled (as the release formats them:
    the options list appears as its Python repr, the Ref-AVS expression lower-cased)."""
    spec = get_spec(dataset) if isinstance(dataset, str) else dataset
    return spec.instruction.format(
        question=question or "", options=repr(options) if options is not None else "",
        expression=(expression or "").lower(),
    )


def target_for(record: Record) -> str:
    """Re-render a record's target from its reasoning and structured answer."""
    return render_target(record.reasoning, render_answer(record.dataset, record.answer))
