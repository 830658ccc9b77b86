"""One release record -> a draft of a unified record: media paths, instruction, structured answer.

The structured answer comes from the record's own fields where the release has them (class,
emotion, correct candidate, answer, event + range, ``a_obj`` + corners, Ref-AVS split), from the
ground-truth mask for S4 / MS3 / Ref-AVS test frames (which carry no box), and otherwise from the
target text through :func:`crabplus.tasks.parsers.parse_answer`. A draft whose answer is still
incomplete carries the reason (``problem``); the benchmark ground truth may complete it later
(:mod:`crabplus.data.importers.merge`) before :mod:`crabplus.data.importers.avuie` finalises it.
"""

from __future__ import annotations

import ast
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crabplus.data.importers import masks
from crabplus.data.importers.music_avqa import parse_json_list
from crabplus.data.importers.refavs import category_of
from crabplus.data.importers.release import (
    CLASS_FIELD,
    Skip,
    get_int,
    get_number,
    get_str,
    media_path,
    release_meta,
    target_field,
)
from crabplus.data.importers.report import (
    EMPTY_MASK,
    INVALID_FIELD,
    MISSING_FIELD,
    MISSING_MEDIA,
    NOT_AN_OBJECT,
    UNPARSABLE,
    UNREADABLE_MEDIA,
)
from crabplus.schema.records import Answer, Event, Media, RecordError
from crabplus.schema.registry import DATASETS
from crabplus.tasks.formats import render_instruction

Parser = Callable[[str, str], Answer | None]


@dataclass
class Draft:
    """A record in the making. ``target`` is the release's own target (train); ``problem`` is the
    (reason, detail) to report if the answer stays incomplete."""

    task: str
    split: str
    index: int
    media: Media
    instruction: str
    answer: Answer
    meta: dict[str, Any]
    target: str | None = None
    problem: tuple[str, str] | None = None


@dataclass
class Context:
    """What conversion needs besides the record: the data root (to read masks) and the parser
    (None when ``crabplus.tasks.parsers`` is not available)."""

    root: Path
    parse: Parser | None


def _parse(ctx: Context, d: Draft, text: str | None, what: str) -> Answer | None:
    """``parse_answer(task, text)``; on failure remember why on the draft and return None."""
    if text is None:
        d.problem = d.problem or (MISSING_FIELD, f"no {what} to recover the answer from")
        return None
    if ctx.parse is None:
        d.problem = (UNPARSABLE, f"{what}: no parser available (crabplus.tasks.parsers is missing)")
        return None
    try:
        answer = ctx.parse(d.task, text)
    except Exception as exc:  # a parser bug must not abort a 200K-record import; it is reported
        answer, why = None, f"parser raised {type(exc).__name__}: {exc}"
    else:
        why = "the parser found no answer"
    if answer is None:
        d.problem = (UNPARSABLE, f"{what} {text[:120]!r}: {why}")
    return answer


def _video_media(task: str, raw: dict) -> Media:
    return Media(video=media_path(task, "video", raw, "video_path"), audio=media_path(task, "audio", raw, "audio_path"))


def _image_field(split: str) -> str:
    return "image_path" if split == "train" else "visual_path"


def _image_media(task: str, split: str, raw: dict) -> Media:
    return Media(
        image=media_path(task, None, raw, _image_field(split)), audio=media_path(task, None, raw, "audio_path")
    )


def _mask_answer(ctx: Context, rel: str, *, required: bool) -> tuple[list[int], list[list[int]]] | None:
    """Box and points from the mask ``rel``; None for an empty mask. A missing file is a skip when
    ``required``, else None."""
    path = ctx.root / rel
    if not path.is_file():
        if required:
            raise Skip(MISSING_MEDIA, f"ground-truth mask {rel}")
        return None
    try:
        mask = masks.load_binary_mask(path)  # [224, 224] bool
    except masks.MaskError as exc:
        raise Skip(UNREADABLE_MEDIA, str(exc)) from None
    return masks.mask_box_points(mask)


# --------------------------------------------------------------------------------------------
# per task family
# --------------------------------------------------------------------------------------------


def _classify(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _video_media(d.task, raw)
    label = get_str(raw, CLASS_FIELD[d.task], allow_number=True)
    d.answer.label = label.lower() if d.task == "ucf" else label  # the release lower-cases UCF classes


_WORDS = {"one": 1, "two": 2}


def _choice(raw: dict, name: str) -> int:
    value = raw.get(name)
    if isinstance(value, str) and value.strip().lower() in _WORDS:
        return _WORDS[value.strip().lower()]
    choice = get_int(raw, name)
    if choice not in (1, 2):
        raise Skip(INVALID_FIELD, f"field {name!r}: expected 1 or 2, got {value!r}")
    return choice


def _a2v(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = Media(
        video=media_path("a2v", "video", raw, "video1_path"),
        video2=media_path("a2v", "video", raw, "video2_path"),
        audio=media_path("a2v", "audio", raw, "audio_path"),
    )
    d.answer.choice = _choice(raw, "correct_video")


def _v2a(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = Media(
        video=media_path("v2a", "video", raw, "video_path"),
        audio=media_path("v2a", "audio", raw, "audio1_path"),
        audio2=media_path("v2a", "audio", raw, "audio2_path"),
    )
    d.answer.choice = _choice(raw, "correct_audio")


def _avqa(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _video_media("avqa", raw)
    question = get_str(raw, "question")
    d.instruction = render_instruction("avqa", question=question)
    d.answer.text = get_str(raw, "answer", allow_number=True)
    d.meta["question"] = question
    if isinstance(d.meta.get("type"), str):  # MUSIC-AVQA stores the type as a JSON string
        # an unreadable one is kept verbatim; the benchmark JSON (--music-avqa-json) can supply it
        with contextlib.suppress(RecordError):
            d.meta["type"] = [str(t) for t in parse_json_list(d.meta["type"], what="type")]


def _options(raw: dict) -> list[str]:
    value = raw.get("multi_choice")
    if isinstance(value, str):  # a list written as JSON or as a Python repr
        for loads in (json.loads, ast.literal_eval):
            try:
                parsed = loads(value)
            except (ValueError, SyntaxError):
                continue
            if isinstance(parsed, list):
                value = parsed
                break
    if value is None:
        raise Skip(MISSING_FIELD, "field 'multi_choice' is missing")
    if not isinstance(value, list) or not value or not all(isinstance(v, str | int | float) for v in value):
        raise Skip(INVALID_FIELD, f"field 'multi_choice': expected a list of options, got {value!r}")
    return [str(v) for v in value]


def _avqa_thu(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _video_media("avqa_thu", raw)
    question = get_str(raw, "question_text")
    options = _options(raw)
    answer = raw.get("answer")
    if isinstance(answer, str) and answer.strip() in options:
        choice = options.index(answer.strip())
    else:
        choice = get_int(raw, "answer")  # the AVQA answer is the 0-based index into multi_choice
        if not 0 <= choice < len(options):
            raise Skip(INVALID_FIELD, f"field 'answer': {answer!r} is not an option index of {options}")
    d.answer.options, d.answer.choice = options, choice
    shown = raw["multi_choice"] if isinstance(raw["multi_choice"], str) else str(raw["multi_choice"])
    d.instruction = DATASETS["avqa_thu"].instruction.format(question=question, options=shown)


def _ave(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _video_media("ave", raw)
    label = get_str(raw, "event")
    start, end = get_number(raw, "start_time"), get_number(raw, "end_time")
    if not 0 <= start < end:
        raise Skip(INVALID_FIELD, f"fields 'start_time'/'end_time': need 0 <= start < end, got [{start}, {end}]")
    d.answer.events = [Event(label, start, end)]


def _unav(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _video_media("unav", raw)
    parsed = _parse(ctx, d, d.target or raw.get("label_content"), "label_content")
    if parsed is not None and parsed.events is not None:
        d.answer.events = parsed.events


def _avvp(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _video_media("avvp", raw)
    event = raw.get("event")
    if event is not None and not isinstance(event, str):
        d.problem = (INVALID_FIELD, f"field 'event': expected text, got {event!r}"[:200])
    texts = [("event", event)] + ([("label_content", d.target)] if d.target else [])
    for what, text in texts:
        if not isinstance(text, str) or not text.strip():
            continue
        parsed = _parse(ctx, d, text, what)
        if parsed is not None and parsed.audio_events is not None and parsed.visual_events is not None:
            d.answer.audio_events, d.answer.visual_events = parsed.audio_events, parsed.visual_events
            d.problem = None
            return
    d.problem = d.problem or (MISSING_FIELD, "no 'event' text to recover the per-modality events from")


def _avcap(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _video_media("avcap", raw)
    caption = d.target if d.target is not None else raw.get("label_content")
    if isinstance(caption, str) and caption.strip():
        d.answer.text = caption.strip()
    else:
        d.problem = (MISSING_FIELD, "field 'label_content' (the caption) is missing")


def _avs(d: Draft, raw: dict, ctx: Context) -> None:
    """s4 / ms3: one frame + the matching fifth of the audio; box + points."""
    d.media = _image_media(d.task, d.split, raw)
    # the fifth of the clip the audio window keeps: 0 for s4 train (the release; docs/data.md), else frame_idx
    d.media.audio_window_index = 0 if (d.task == "s4" and d.split == "train") else get_int(raw, "frame_idx")
    label = get_str(raw, "a_obj", allow_number=True)
    try:
        mask_rel = masks.avs_mask_path(d.media.image)
    except masks.MaskError as exc:
        raise Skip(INVALID_FIELD, f"field {_image_field(d.split)!r}: {exc}") from None
    if d.split == "train":
        parsed = _parse(ctx, d, d.target, "label_content")
        if parsed is not None and parsed.box is not None and parsed.points is not None:
            d.answer.label, d.answer.box, d.answer.points = label, parsed.box, parsed.points  # label: a_obj
        elif parsed is not None:
            d.problem = (UNPARSABLE, f"label_content {d.target[:120]!r}: no box and points")
        if (ctx.root / mask_rel).is_file():  # train S4 has only frame 0 annotated; a mask is a bonus
            d.answer.mask = mask_rel
        return
    found = _mask_answer(ctx, mask_rel, required=True)
    if found is None:
        raise Skip(EMPTY_MASK, f"{mask_rel}: no foreground, so no box and points")
    d.answer.label, (d.answer.box, d.answer.points), d.answer.mask = label, found, mask_rel


def _arig(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _image_media("arig", d.split, raw)  # audio window: the whole clip, no index
    label = get_str(raw, "a_obj", allow_number=True)
    if d.split == "train":
        parsed = _parse(ctx, d, d.target, "label_content")
        if parsed is not None and parsed.box is not None:
            d.answer.label, d.answer.box = label, parsed.box  # label: the a_obj field
        elif parsed is not None:
            d.problem = (UNPARSABLE, f"label_content {d.target[:120]!r}: no box")
        return
    corners = []
    for name in ("top_left", "bottom_right"):
        value = raw.get(name)
        if value is None:
            raise Skip(MISSING_FIELD, f"field {name!r} is missing")
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise Skip(INVALID_FIELD, f"field {name!r}: expected [x, y], got {value!r}")
        corners.extend(int(round(v)) for v in value)
    d.answer.label, d.answer.box = label, corners


def _ref_avs(d: Draft, raw: dict, ctx: Context) -> None:
    d.media = _image_media("ref_avs", d.split, raw)
    # the tenth of the clip the audio window keeps: ``idx`` in train, ``frame_idx`` in test
    d.media.audio_window_index = get_int(raw, "idx" if d.split == "train" else "frame_idx")
    expression = get_str(raw, "description" if d.split == "train" else "object")
    d.instruction = render_instruction("ref_avs", expression=expression)
    d.meta["expression"] = expression
    fid = get_int(raw, "fid")
    try:
        mask_rel = masks.refavs_mask_path(d.media.image, fid)
    except masks.MaskError as exc:
        raise Skip(INVALID_FIELD, f"field {_image_field(d.split)!r}: {exc}") from None
    if d.split == "train":
        parsed = _parse(ctx, d, d.target, "output")
        if parsed is not None and parsed.exists is not None:
            d.answer = parsed
        elif parsed is not None:
            d.problem = (UNPARSABLE, f"output {d.target[:120]!r}: no true/false answer")
        if (ctx.root / mask_rel).is_file():
            d.answer.mask = mask_rel
        return
    subset = get_str(raw, "split")
    null = subset == "test_n"
    found = _mask_answer(ctx, mask_rel, required=not null)
    if (ctx.root / mask_rel).is_file():
        d.answer.mask = mask_rel
    # exists: the expression refers to something (not the null split) that is visible in this frame
    # (a non-empty mask); an absent object scores as an all-empty mask, as the release's scoring does
    d.answer.exists = not null and found is not None
    if d.answer.exists:
        vid = raw.get("vid")
        uid = raw.get("uid")
        category = category_of(str(uid), str(vid)) if uid is not None and vid is not None else None
        d.answer.label = category or expression
        d.answer.box, d.answer.points = found


FAMILIES: dict[str, Callable[[Draft, dict, Context], None]] = {
    **{t: _classify for t in CLASS_FIELD},
    "a2v": _a2v,
    "v2a": _v2a,
    "avqa": _avqa,
    "avqa_thu": _avqa_thu,
    "ave": _ave,
    "unav": _unav,
    "avvp": _avvp,
    "avcap": _avcap,
    "s4": _avs,
    "ms3": _avs,
    "arig": _arig,
    "ref_avs": _ref_avs,
}


def convert(task: str, split: str, raw: Any, index: int, source: str, ctx: Context) -> Draft:
    """The draft of release record number ``index`` of ``source``; :class:`Skip` when it cannot be
    one (a missing or invalid field, missing media the answer depends on)."""
    if not isinstance(raw, dict):
        raise Skip(NOT_AN_OBJECT, f"expected a JSON object, got {type(raw).__name__}")
    spec = DATASETS[task]
    target = get_str(raw, target_field(task)) if split == "train" else None
    d = Draft(
        task,
        split,
        index,
        Media(),
        spec.instruction,
        Answer(),
        release_meta(task, split, raw, source, index),
        target=target,
    )
    FAMILIES[task](d, raw, ctx)
    return d
