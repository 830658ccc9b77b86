"""The datasets of the release and what each one is: task type, media, instruction, answer format.

One :class:`DatasetSpec` per task flag of the release (docs/data.md: 19 flags over 17 source
datasets). Everything downstream — AVSynth's mirror datasets, the media pipeline's frame counts and
audio windows, the target format, the parser and the metric — reads it from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from crabplus.schema.perception import PERCEPTION_SPECS
from crabplus.schema.spec import LEAD_IN, AudioWindow, DatasetSpec, Visual

__all__ = [
    "DATASETS",
    "FREE_QUESTION_DATASET",
    "LEAD_IN",
    "RELEASE_DATASETS",
    "SYSTEM_PROMPT",
    "TASK_TYPES",
    "AudioWindow",
    "DatasetSpec",
    "Visual",
    "dataset_names",
    "get_spec",
    "register_dataset",
    "unregister_dataset",
]

#: The seven task types of Crab+ (docs/architecture.md).
TASK_TYPES: tuple[str, ...] = (
    "action",  # action recognition
    "emotion",  # emotion recognition
    "matching",  # audio <-> video matching
    "localization",  # event localisation in time
    "segmentation",  # sounding-object segmentation and grounding in space
    "captioning",  # audio-visual captioning
    "qa",  # question answering
)

SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving "
    "auditory and visual inputs, as well as generating text and speech."
)

_ACTION = "Please identify the action taking place in the video."
_EMOTION = "Please judge the person's emotion at the moment."
_EVENTS = "Please describe the events and time range that occurred in the video."
_SEGMENT = (
    "Please identify the category of the object producing the sound in the video frame. Then, provide "
    "the bounding box and three pixel points of the object that is making the sound within the frame."
)
_REFAVS = (
    "Please analyze the video frame and audio to find the object described as <des>{expression}</des>. "
    'Answer with "true" or "false" whether the object exists. If it exists, respond with a sentence '
    "identifying the object's name, its bounding box, and three pixel points; if not, state that the "
    "object is absent."
)


def _spec(*args, **kwargs) -> DatasetSpec:
    return DatasetSpec(*args, **kwargs)


_RELEASE: tuple[DatasetSpec, ...] = tuple(
    [
        _spec(
            "ks", "Kinetics-Sounds", "action", "video", 10, "tenths", _ACTION, ("label",), "accuracy", family="label"
        ),
        _spec("ucf", "UCF101", "action", "video", 10, "tenths", _ACTION, ("label",), "accuracy", family="label"),
        _spec("meld", "MELD", "emotion", "video", 4, "first4", _EMOTION, ("label",), "accuracy", family="label"),
        _spec(
            "mer24",
            "MER2024",
            "emotion",
            "video",
            4,
            "first4",
            _EMOTION,
            ("label",),
            "accuracy",
            has_test=False,
            family="label",
        ),
        _spec("cremad", "CREMA-D", "emotion", "video", 4, "first4", _EMOTION, ("label",), "accuracy", family="label"),
        _spec("mafw", "MAFW", "emotion", "video", 4, "first4", _EMOTION, ("label",), "uar_war", family="label"),
        _spec("dfew", "DFEW", "emotion", "video", 4, "first4", _EMOTION, ("label",), "uar_war", family="label"),
        _spec(
            "a2v",
            "VGGSound (audio->video)",
            "matching",
            "two_videos",
            10,
            "tenths",
            "Please listen to the audio and indicate which of the two videos matches what you hear.",
            ("choice",),
            "accuracy",
            family="choice",
        ),
        _spec(
            "v2a",
            "VGGSound (video->audio)",
            "matching",
            "video",
            10,
            "tenths",
            "Please view the video and indicate which of the two audio clips matches what you see.",
            ("choice",),
            "accuracy",
            two_audios=True,
            family="choice",
        ),
        _spec(
            "avqa",
            "MUSIC-AVQA",
            "qa",
            "video",
            10,
            "ten_of_60s",
            "Please answer this question: {question}",
            ("text",),
            "avqa_accuracy",
            family="open_answer",
        ),
        _spec(
            "avqa_thu",
            "AVQA",
            "qa",
            "video",
            10,
            "tenths",
            "Please answer the question based on the options: {question}, options:{options}",
            ("choice", "options"),
            "option_accuracy",
            family="option",
        ),
        _spec(
            "ave", "AVE", "localization", "video", 10, "tenths", _EVENTS, ("events",), "ave_accuracy", family="events"
        ),
        _spec(
            "unav",
            "UnAV-100",
            "localization",
            "video",
            10,
            "tenths",
            _EVENTS,
            ("events",),
            "tiou_map",
            has_test=False,
            family="events",
        ),
        _spec(
            "avvp",
            "LLP (AVVP)",
            "localization",
            "video",
            10,
            "tenths",
            "Please determine the events that occur based on the visual and audio information in the "
            "video, as well as the start and end times of these events.",
            ("audio_events", "visual_events"),
            "avvp",
            family="avvp",
        ),
        _spec(
            "avcap",
            "VALOR-32K",
            "captioning",
            "video",
            10,
            "tenths",
            "Please describe this video and audio.",
            ("text",),
            "caption",
            has_test=False,
            family="caption",
        ),
        _spec(
            "s4",
            "AVSBench S4",
            "segmentation",
            "image",
            1,
            "one_fifth",
            _SEGMENT,
            ("label",),
            "avs",
            family="mask",
            prompt_unless_mask=True,
        ),
        _spec(
            "ms3",
            "AVSBench MS3",
            "segmentation",
            "image",
            1,
            "one_fifth",
            _SEGMENT,
            ("label",),
            "avs",
            family="mask",
            prompt_unless_mask=True,
        ),
        _spec(
            "ref_avs",
            "Ref-AVS",
            "segmentation",
            "image",
            1,
            "one_tenth",
            _REFAVS,
            ("exists",),
            "refavs",
            family="refavs",
        ),
        _spec(
            "arig",
            "ARIG (AVSBench frames)",
            "segmentation",
            "image",
            1,
            "fifths",
            "Please recognize the category of object that makes the sound and then output its bounding box.",
            ("label", "box"),
            "box_iou",
            family="box",
        ),
    ]
)

#: The release's 19 task flags, in its order; fixed whatever is registered later. What must not move when a
#: benchmark is added reads this: the tiny tokenizer's corpus and AVSynth's studio tints.
RELEASE_DATASETS: tuple[str, ...] = tuple(s.name for s in _RELEASE)

_ROWS: dict[str, DatasetSpec] = {s.name: s for s in _RELEASE}

#: The registry as it is now (the release's rows, then those added with :func:`register_dataset`), by name; a
#: read-only view, so every row goes through :func:`register_dataset`'s checks.
DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(_ROWS)

#: The dataset whose instruction is the question alone: a user's own question about their video is asked as it.
FREE_QUESTION_DATASET = "avqa"


#: A dataset name is a folder name and a record-id prefix: lower-case letters, digits and underscores.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a benchmark to the registry (after the release's rows) and return its spec.

    A benchmark whose answers have a shape we already have needs nothing else: records validate against the
    row, its family renders, parses and scores it, and ``crabplus eval`` reports it. Nothing that exists moves:
    AVSynth makes clips only for the datasets it has a mirror of, and the tokenizer and the studio tints read
    :data:`RELEASE_DATASETS` only. A name taken (by a row or a perception-corpus layout), a name that is not
    a plain folder name, or an unknown task type is an error.
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"register_dataset: expected a DatasetSpec, got {type(spec).__name__}")
    if not _NAME.fullmatch(spec.name):
        raise ValueError(
            f"register_dataset: name {spec.name!r} must be a folder name: lower-case letters, digits and '_'"
        )
    if spec.name in _ROWS or spec.name in PERCEPTION_SPECS:
        raise ValueError(f"register_dataset: dataset {spec.name!r} is already registered")
    if spec.task not in TASK_TYPES:
        raise ValueError(f"register_dataset: {spec.name}: task {spec.task!r} is not one of {list(TASK_TYPES)}")
    _ROWS[spec.name] = spec
    return spec


def unregister_dataset(name: str) -> None:
    """Remove a row :func:`register_dataset` added (the release's rows stay)."""
    if name in RELEASE_DATASETS:
        raise ValueError(f"unregister_dataset: {name!r} is one of the release's datasets")
    if name not in _ROWS:
        raise KeyError(f"unregister_dataset: {name!r} is not registered")
    del _ROWS[name]


def dataset_names() -> tuple[str, ...]:
    """The registered datasets' names, now (the release's 19 first, in its order)."""
    return tuple(_ROWS)


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name`` (a registered one, or a layout of the perception pretraining corpus,
    ``crabplus.schema.perception``); an unknown name is an error listing the registered."""
    if name in _ROWS:
        return _ROWS[name]
    if name in PERCEPTION_SPECS:  # the base stage's corpus layouts
        return PERCEPTION_SPECS[name]
    raise KeyError(f"unknown dataset {name!r} (known: {', '.join(_ROWS)})")
