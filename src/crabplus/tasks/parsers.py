"""Generated text -> structured prediction: the inverse of :mod:`crabplus.tasks.formats`.

Each dataset's parser is its answer family's (``crabplus.tasks.families``, built from the readers in
``families/reading.py``); this module is the front door and states the rules they share.

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

from crabplus.schema.prediction import Prediction
from crabplus.schema.records import Answer
from crabplus.schema.registry import DATASETS
from crabplus.tasks.families import family_of
from crabplus.tasks.families.reading import (
    FRAME,
    MAX_TEXT_CHARS,
    answer_tag,
    parse_box_points,
    parse_events,
    parse_modality_events,
    release_box_points,
    resolve_option,
)

__all__ = [
    "FRAME",
    "MAX_TEXT_CHARS",
    "Prediction",
    "answer_tag",
    "parse_answer",
    "parse_box_points",
    "parse_events",
    "parse_modality_events",
    "parse_prediction",
    "release_box_points",
    "resolve_option",
]


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
        pred = family_of(dataset).parse(text, options)
    except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as exc:  # defensive: never raise
        return Prediction(notes=[f"parser error: {type(exc).__name__}: {exc}"])
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
    return family_of(dataset).to_answer(pred, options)
