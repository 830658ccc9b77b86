"""Text -> answer pieces: the lenient, linear-time readers every family's parser is built from.

The rules (what each reader accepts) are listed in :mod:`crabplus.tasks.parsers`. Every pattern is linear in
the text: each lazy body is "tempered" so that it cannot run past the next opening tag of its own kind. Without
it, a text of many unclosed openings (``"<answer>" * 30000``) made the engine rescan the rest of the text from
every one of them (quadratic: 64 kB took 42 s).
"""

from __future__ import annotations

import math
import re

from crabplus.schema.geometry import SPACE, clip_box
from crabplus.schema.records import Event
from crabplus.tasks.normalize import normalize_answer

MAX_TEXT_CHARS = 32768
FRAME = SPACE  # coordinates live in 224-pixel space (the release; docs/data.md)

_NUM = r"[-+]?\d+(?:\.\d+)?"
_FLAGS = re.IGNORECASE | re.DOTALL
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
OBJ = re.compile(rf"<obj>\s*{_PAIR}\s*,?\s*{_PAIR}\s*</obj>", _FLAGS)
ARIG_LABEL = re.compile(r"sounding object is\s+(.+?)\s*\.?\s*(?:its coordinates|<obj>|$)", _FLAGS)
S4_GT_LABEL = re.compile(r"object making the sound in the video is\s+(.+?)\s*\.?\s*$", _FLAGS)
# the release's SAM 2 scripts: integers only, no spaces inside the brackets (the release; docs/evaluation.md)
_RELEASE_BRACKETS = re.compile(r"\[(\d+),(\d+)(?:,(\d+),(\d+))?\]")

_CHOICE_WORDS = {"one": 1, "first": 1, "two": 2, "second": 2, "three": 3, "third": 3, "four": 4, "fourth": 4}
TRUE_WORDS = {"true", "yes"}
FALSE_WORDS = {"false", "no"}
_SHORT_ANSWER_WORDS = 8


def num(text: str) -> float | None:
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


def word_answer(text: str) -> str | None:
    """A tagged answer, or the whole text when it is a short untagged phrase (release GT style)."""
    tagged = answer_tag(text)
    if tagged is not None:
        return tagged or None
    plain = text.strip().rstrip(".").strip()
    if plain and "<" not in plain and "\n" not in plain and len(plain.split()) <= _SHORT_ANSWER_WORDS:
        return plain
    return None


def make_event(label: str, start: str, end: str) -> Event | None:
    s, e = num(start), num(end)
    label = label.strip().strip(",").strip()
    if not label or s is None or e is None or not 0 <= s < e:
        return None
    return Event(label, s, e)


def parse_events(text: str) -> list[Event]:
    """``<event>…</event><range>…</range>`` pairs, else AVE's ``event:… start_time:… end_time:…``."""
    events = [ev for m in _EVENT_RANGE.finditer(text) if (ev := make_event(*m.groups())) is not None]
    if not events:
        events = [ev for m in _AVE_GT.finditer(text) if (ev := make_event(*m.groups())) is not None]
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
            ev = make_event(label, r.group(1), r.group(2))
            if ev is not None:
                target.append(ev)
    return audio, visual, any_tag


def parse_box_points(text: str) -> tuple[list[int] | None, list[list[int]]]:
    """First ``[x1,y1,x2,y2]`` (clipped to the frame) and the last three ``[x,y]`` within the frame."""
    box = None
    m = _BOX.search(text)
    if m:
        values = [num(g) for g in m.groups()]
        if None not in values:
            box = clip_box(values)  # type: ignore[arg-type]
    points = []
    for p in _POINT.finditer(text):
        x, y = num(p.group(1)), num(p.group(2))
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


def release_refavs_valid(text: str) -> bool:
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


def choice_number(answer: str | None) -> int | None:
    if answer is None:
        return None
    m = re.search(r"\d+", answer)
    if m:
        return int(m.group(0))
    for word in normalize_answer(answer).split():
        if word in _CHOICE_WORDS:
            return _CHOICE_WORDS[word]
    return None
