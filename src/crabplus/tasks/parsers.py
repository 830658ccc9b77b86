"""Generated text -> structured prediction: the inverse of :mod:`crabplus.tasks.formats`.

``parse_prediction(dataset, text)`` never raises: text with no usable answer gives a
:class:`Prediction` with ``parsed=False`` ("unparsed"), which the reports count and score as wrong.
The parsers are lenient where the meaning is clear, so that they also read the release's own target
and ground-truth strings (``parse_answer`` is how the importer recovers structured answers):

- the last ``<answer>…</answer>`` wins (the reasoning comes first); an unclosed final ``<answer>``
  (a generation cut at ``max_new_tokens``) is read to the end of its line; for word answers a short
  untagged text (the release's MUSIC-AVQA / AVQA ground truths are the raw word) is the answer;
- events: ``<event>X</event><range>S,E</range>`` with any spaces and ``,``/space/``-``/``~``/``to``
  between the times (Crab writes ``<event> X </event> <range> s,e </range>``), and AVE's ground
  truth ``event:X start_time:S end_time:E``; AVVP: ``<audio_event>X,(S E)</audio_event>`` (also
  Crab's older ``<audio>``/``<visual>`` tags, and several ``(S E)`` ranges in one tag);
- boxes ``[x1,y1,x2,y2]`` and points ``[x,y]`` with or without spaces, integers or decimals (rounded);
  ARIG's ``<obj>(x1,y1)(x2,y2)</obj>``; a box partly outside the 224-pixel frame is clipped, one
  with no area left is dropped; points outside the frame are dropped;
- Ref-AVS ``<answer>true|false</answer>`` (also ``yes``/``no``).

``Prediction.release_valid`` says whether the release's own, stricter parser would have accepted
the text (the release, docs/evaluation.md: for S4/MS3/Ref-AVS its integer-only, no-space regex and range checks; for the
other datasets, which the release never parsed, it equals ``parsed``). Reports score "ours"
(unparsed = wrong) and "release" (invalid ones dropped) side by side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from crabplus.schema.geometry import SPACE, clip_box
from crabplus.schema.records import Answer, Event
from crabplus.schema.registry import DATASETS
from crabplus.tasks.normalize import normalize_answer

#: Longest generated text parsed (characters); the rest is ignored with a note. 512 new tokens are ~3 k.
MAX_TEXT_CHARS = 32768
FRAME = SPACE  # coordinates live in 224-pixel space (the release; docs/data.md)

_NUM = r"[-+]?\d+(?:\.\d+)?"
_FLAGS = re.IGNORECASE | re.DOTALL
# Linear time: each lazy body is "tempered" so that it cannot run past the next opening tag of its own
# kind. Without it, a text of many unclosed openings ("<answer>" * 30000) made the engine rescan the
# rest of the text from every one of them (quadratic: 64 kB took 42 s).
_ANSWER = re.compile(r"<answer>\s*((?:(?!<answer>).)*?)\s*</answer>", _FLAGS)
_ANSWER_OPEN = re.compile(r"<answer>\s*([^<\n]*)$", re.IGNORECASE)
_EVENT_RANGE = re.compile(
    rf"<event>\s*((?:(?!<event>).)*?)\s*</event>[^<]*?<range>\s*({_NUM})\s*(?:,|-|~|to|\s)\s*({_NUM})\s*</range>",
    _FLAGS,
)
_AVE_GT = re.compile(
    rf"event\s*:\s*((?:(?!event\s*:).)+?)\s+start[_ ]time\s*:\s*({_NUM})\s*,?\s*end[_ ]time\s*:\s*({_NUM})",
    re.IGNORECASE,
)
_MOD_TAG = re.compile(
    r"<(audio_event|visual_event|audio|visual)>((?:(?!<(?:audio_event|visual_event|audio|visual)>).)*?)</\1>", _FLAGS
)
_PAREN_RANGE = re.compile(rf"\(\s*({_NUM})\s*(?:,|-|~|to|\s)\s*({_NUM})\s*\)", re.IGNORECASE)
_BOX = re.compile(rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]")
_POINT = re.compile(rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*\]")
_PAIR = rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)"
_OBJ = re.compile(rf"<obj>\s*{_PAIR}\s*,?\s*{_PAIR}\s*</obj>", _FLAGS)
_ARIG_LABEL = re.compile(r"sounding object is\s+(.+?)\s*\.?\s*(?:its coordinates|<obj>|$)", _FLAGS)
_S4_GT_LABEL = re.compile(r"object making the sound in the video is\s+(.+?)\s*\.?\s*$", _FLAGS)
# the release's SAM 2 scripts: integers only, no spaces inside the brackets (the release; docs/evaluation.md)
_RELEASE_BRACKETS = re.compile(r"\[(\d+),(\d+)(?:,(\d+),(\d+))?\]")

_CHOICE_WORDS = {"one": 1, "first": 1, "two": 2, "second": 2, "three": 3, "third": 3, "four": 4, "fourth": 4}
_TRUE = {"true", "yes"}
_FALSE = {"false", "no"}
_SHORT_ANSWER_WORDS = 8


@dataclass
class Prediction:
    """The structured content of one generated text (field names as :class:`Answer`).

    ``parsed`` is False when the text holds no usable answer; ``release_valid`` when the release's
    own parser would have accepted it (see the module docstring).
    """

    label: str | None = None
    choice: int | None = None
    text: str | None = None
    events: list[Event] | None = None
    audio_events: list[Event] | None = None
    visual_events: list[Event] | None = None
    box: list[int] | None = None
    points: list[list[int]] | None = None
    exists: bool | None = None
    parsed: bool = False
    release_valid: bool = False
    notes: list[str] = field(default_factory=list)

    def to_answer(self, options: list[str] | None = None) -> Answer:
        """The :class:`Answer` this prediction states (``options`` kept for multiple choice)."""
        return Answer(label=self.label, choice=self.choice, options=options if self.choice is not None else None,
                      text=self.text, events=self.events, audio_events=self.audio_events,
                      visual_events=self.visual_events, box=self.box, points=self.points, exists=self.exists)


# --------------------------------------------------------------------------------------------
# pieces
# --------------------------------------------------------------------------------------------


def _num(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def answer_tag(text: str) -> str | None:
    """The content of the last ``<answer>…</answer>``; else of an unclosed final ``<answer>``."""
    found = _ANSWER.findall(text)
    if found:
        return found[-1].strip()
    tail = _ANSWER_OPEN.search(text)
    if tail and tail.group(1).strip():
        return tail.group(1).strip()
    return None


def _word_answer(text: str) -> str | None:
    """A tagged answer, or the whole text when it is a short untagged phrase (release GT style)."""
    tagged = answer_tag(text)
    if tagged is not None:
        return tagged or None
    plain = text.strip().rstrip(".").strip()
    if plain and "<" not in plain and "\n" not in plain and len(plain.split()) <= _SHORT_ANSWER_WORDS:
        return plain
    return None


def _event(label: str, start: str, end: str) -> Event | None:
    s, e = _num(start), _num(end)
    label = label.strip().strip(",").strip()
    if not label or s is None or e is None or not 0 <= s < e:
        return None
    return Event(label, s, e)


def parse_events(text: str) -> list[Event]:
    """``<event>…</event><range>…</range>`` pairs, else AVE's ``event:… start_time:… end_time:…``."""
    events = [ev for m in _EVENT_RANGE.finditer(text) if (ev := _event(*m.groups())) is not None]
    if not events:
        events = [ev for m in _AVE_GT.finditer(text) if (ev := _event(*m.groups())) is not None]
    return events


def parse_modality_events(text: str) -> tuple[list[Event], list[Event], bool]:
    """(audio events, visual events, whether any modality tag was present)."""
    audio: list[Event] = []
    visual: list[Event] = []
    any_tag = False
    for m in _MOD_TAG.finditer(text):
        any_tag = True
        content = m.group(2)
        ranges = list(_PAREN_RANGE.finditer(content))
        if not ranges:
            continue
        label = content[: ranges[0].start()]
        target = audio if m.group(1).lower().startswith("audio") else visual
        for r in ranges:
            ev = _event(label, r.group(1), r.group(2))
            if ev is not None:
                target.append(ev)
    return audio, visual, any_tag


def parse_box_points(text: str) -> tuple[list[int] | None, list[list[int]]]:
    """First ``[x1,y1,x2,y2]`` (clipped to the frame) and the last three ``[x,y]`` within the frame."""
    box = None
    m = _BOX.search(text)
    if m:
        values = [_num(g) for g in m.groups()]
        if None not in values:
            box = clip_box(values)  # type: ignore[arg-type]
    points = []
    for p in _POINT.finditer(text):
        x, y = _num(p.group(1)), _num(p.group(2))
        if x is None or y is None:
            continue
        xi, yi = round(x), round(y)
        if 0 <= xi < FRAME and 0 <= yi < FRAME:
            points.append([xi, yi])
    return box, points[-3:]


def release_box_points(text: str, *, need_three_points_without_box: bool) -> tuple[list[int] | None, list]:
    """The release's SAM 2 prompt parse: ``None, []`` when it would log the sample invalid.

    S4/MS3 (``need_three_points_without_box``): a box needs at least one point with it (a box alone is
    the release's ``insufficient_coordinates``), no box needs three points. Ref-AVS: a box or points.
    """
    text = text.split("</s>")[0]
    matches = _RELEASE_BRACKETS.findall(text)
    quads = [tuple(int(v) for v in m) for m in matches if m[2] != ""]
    pairs = [(int(m[0]), int(m[1])) for m in matches if m[2] == ""]
    box = list(quads[0]) if quads else None
    points = [list(p) for p in pairs[-3:]]
    if box is not None and not (0 <= box[0] < box[2] < FRAME and 0 <= box[1] < box[3] < FRAME):
        return None, []
    if any(not (0 <= x < FRAME and 0 <= y < FRAME) for x, y in points):
        return None, []
    if box is None and (len(points) < 3 if need_three_points_without_box else not points):
        return None, []
    if need_three_points_without_box and not points:
        return None, []  # S4/MS3: a box alone is "insufficient_coordinates"
    return box, points


def _release_refavs_valid(text: str) -> bool:
    """Whether the release's Ref-AVS script scores the text (case-sensitive tags, as it matches them).

    Before the first ``</s>``: ``<answer>true</answer>``, no ``<answer>false</answer>`` and a bracket
    -> valid iff the coordinates pass its checks. Anything else is scored (as an empty mask) iff the
    WHOLE text, ``</s>`` and after included, holds ``<answer>false</answer>``.
    """
    head = text.split("</s>", 1)[0]
    if "<answer>false</answer>" not in head and "<answer>true</answer>" in head and _RELEASE_BRACKETS.search(head):
        rbox, rpoints = release_box_points(text, need_three_points_without_box=False)
        return bool(rbox or rpoints)
    return "<answer>false</answer>" in text


def resolve_option(answer: str | None, options: list[str] | None) -> int | None:
    """The 0-based option an answer names: the option's text (normalised), else a letter ``A``-``Z``,
    else the one option whose text the answer contains."""
    if answer is None or not options:
        return None
    norm = normalize_answer(answer)
    normed = [normalize_answer(o) for o in options]
    if norm in normed:
        return normed.index(norm)
    letter = re.fullmatch(r"\(?([a-z])\)?[.):]?", answer.strip().lower())
    if letter and ord(letter.group(1)) - ord("a") < len(options):
        return ord(letter.group(1)) - ord("a")
    hits = [i for i, o in enumerate(normed) if o and re.search(rf"\b{re.escape(o)}\b", norm)]
    return hits[0] if len(hits) == 1 else None


def _choice(answer: str | None) -> int | None:
    if answer is None:
        return None
    m = re.search(r"\d+", answer)
    if m:
        return int(m.group(0))
    for word in normalize_answer(answer).split():
        if word in _CHOICE_WORDS:
            return _CHOICE_WORDS[word]
    return None


# --------------------------------------------------------------------------------------------
# per task
# --------------------------------------------------------------------------------------------


def _parse_segmentation(name: str, text: str) -> Prediction:
    pred = Prediction()
    box, points = parse_box_points(text)
    pred.box, pred.points = box, (points or None)
    if name == "ref_avs":
        flag = answer_tag(text)
        flag_word = normalize_answer(flag).split()[0] if flag and normalize_answer(flag) else ""
        if flag_word in _FALSE:
            pred.exists, pred.box, pred.points = False, None, None
        elif flag_word in _TRUE or (flag is None and (box or points)):
            pred.exists = True
            after = re.split(r"</answer>", text, flags=re.IGNORECASE)[-1]
            label = after.split("[")[0].strip().strip(":,;").strip()
            pred.label = label or None
        pred.parsed = pred.exists is False or (pred.exists is True and bool(box or points))
        pred.release_valid = _release_refavs_valid(text)
        return pred
    label = answer_tag(text)
    if label is None and name in ("s4", "ms3"):
        m = _S4_GT_LABEL.search(text.strip())
        label = m.group(1) if m else None
    if name == "arig":
        m = _OBJ.search(text)
        if m:
            values = [_num(g) for g in m.groups()]
            pred.box = clip_box(values) if None not in values else None  # type: ignore[arg-type]
        pred.points = None
        lm = _ARIG_LABEL.search(text)
        if lm and label is None:
            label = lm.group(1)
        pred.label = label.strip() if label else None
        pred.parsed = pred.release_valid = pred.box is not None
        return pred
    pred.label = label.strip() if label else None
    pred.parsed = bool(box or points)
    rbox, rpoints = release_box_points(text, need_three_points_without_box=True)
    pred.release_valid = bool(rbox or rpoints)
    return pred


def _parse(name: str, text: str, options: list[str] | None) -> Prediction:
    spec = DATASETS[name]
    if spec.task in ("action", "emotion"):
        label = _word_answer(text)
        return Prediction(label=label, parsed=label is not None)
    if spec.task == "matching":
        choice = _choice(_word_answer(text))
        return Prediction(choice=choice, parsed=choice is not None)
    if name == "avqa":
        answer = _word_answer(text)
        return Prediction(text=answer, parsed=answer is not None)
    if name == "avqa_thu":
        answer = _word_answer(text)
        choice = resolve_option(answer, options)
        parsed = answer is not None if options is None else choice is not None
        return Prediction(text=answer, choice=choice, parsed=parsed)
    if name in ("ave", "unav"):
        events = parse_events(text)
        return Prediction(events=events or None, parsed=bool(events))
    if name == "avvp":
        audio, visual, _ = parse_modality_events(text)
        ok = bool(audio or visual)
        return Prediction(audio_events=audio if ok else None, visual_events=visual if ok else None, parsed=ok)
    if name == "avcap":
        caption = answer_tag(text)
        caption = (caption if caption is not None else text).strip()
        return Prediction(text=caption or None, parsed=bool(caption))
    if spec.task == "segmentation":
        return _parse_segmentation(name, text)
    raise KeyError(name)


def parse_prediction(dataset: str, text: str, *, options: list[str] | None = None) -> Prediction:
    """The structured prediction in ``text`` for ``dataset``; never raises.

    ``options`` (multiple choice, AVQA) lets the chosen option's index be resolved into ``choice``.
    An unknown dataset or a non-string text gives an unparsed prediction with a note.
    """
    if dataset not in DATASETS:
        return Prediction(notes=[f"unknown dataset {dataset!r}"])
    if not isinstance(text, str):
        return Prediction(notes=[f"prediction is {type(text).__name__}, not text"])
    cut = len(text) > MAX_TEXT_CHARS
    if cut:  # a bounded input keeps every pattern's work bounded; real answers are a few hundred characters
        text = text[:MAX_TEXT_CHARS]
    try:
        pred = _parse(dataset, text, options)
    except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as exc:  # defensive: never raise
        return Prediction(notes=[f"parser error: {type(exc).__name__}: {exc}"])
    if DATASETS[dataset].task != "segmentation":
        pred.release_valid = pred.parsed
    if cut:
        pred.notes.append(f"text longer than {MAX_TEXT_CHARS} characters: only its start was parsed")
    return pred


def parse_answer(dataset: str, text: str, *, options: list[str] | None = None) -> Answer | None:
    """The structured :class:`Answer` in a target / ground-truth text, or None if there is none.

    For AVQA (multiple choice) pass the record's ``options`` to get ``choice``; without them the
    answer has only ``text``.
    """
    pred = parse_prediction(dataset, text, options=options)
    if not pred.parsed:
        return None
    answer = pred.to_answer(options=options)
    if dataset == "avqa_thu" and options is not None:
        answer.text = None
    return answer
