"""crabplus.tasks.families: one object per answer family, the only place an answer's shape is known.

``FAMILIES`` maps the name a :class:`~crabplus.schema.registry.DatasetSpec` gives in ``family`` to its class;
:func:`family_of` binds it to the spec. Each family renders a target, parses generated text, says whether the
release's parser would accept it, scores with the official metric and draws chance (``base.Family``).

| family | datasets | answer |
|---|---|---|
| ``label`` | ks, ucf, meld, mer24, cremad, mafw, dfew | ``<answer>LABEL</answer>`` |
| ``choice`` | a2v, v2a | ``<answer>1</answer>`` |
| ``open_answer`` | avqa | ``<answer>TEXT</answer>`` |
| ``option`` | avqa_thu | ``<answer>OPTION TEXT</answer>`` |
| ``events`` | ave, unav | ``<event>L</event><range>S,E</range>`` ... |
| ``avvp`` | avvp | ``<audio_event>L,(S E)</audio_event>`` ... ``<visual_event>`` ... |
| ``caption`` | avcap | the caption |
| ``mask`` | s4, ms3 | ``<answer>L</answer> [x1,y1,x2,y2] [x,y][x,y][x,y]`` |
| ``refavs`` | ref_avs | ``<answer>true</answer> L [box] [points]`` / ``<answer>false</answer> ...`` |
| ``box`` | arig | ``The sounding object is L. Its coordinates are <obj>(x1,y1)(x2,y2)</obj>.`` |
"""

from __future__ import annotations

from crabplus.schema.registry import DatasetSpec, get_spec
from crabplus.tasks.families.avvp import AvvpFamily
from crabplus.tasks.families.base import Family, Score, ScoreConfig, higher_is_better
from crabplus.tasks.families.box import BoxFamily
from crabplus.tasks.families.caption import CaptionFamily
from crabplus.tasks.families.choice import ChoiceFamily
from crabplus.tasks.families.events import EventsFamily
from crabplus.tasks.families.label import LabelFamily
from crabplus.tasks.families.mask import MaskFamily
from crabplus.tasks.families.open_answer import OpenAnswerFamily
from crabplus.tasks.families.option import OptionFamily
from crabplus.tasks.families.refavs import RefAvsFamily
from crabplus.tasks.families.spatial import FrameStats, SpatialFamily

FAMILIES: dict[str, type[Family]] = {
    f.name: f
    for f in (
        LabelFamily,
        ChoiceFamily,
        OpenAnswerFamily,
        OptionFamily,
        EventsFamily,
        AvvpFamily,
        CaptionFamily,
        MaskFamily,
        RefAvsFamily,
        BoxFamily,
    )
}


#: The longest answer prediction allows by default, in new tokens, per family: two to four times the longest
#: AVSynth target (reasoning + answer, tiny tokenizer; measured on 12 clips per dataset: label <= 58, choice 67,
#: open answer / option 33, events 100, avvp 167, caption 92, mask 86, refavs 69, box 61). The release
#: decodes to 512 for every task; an undertrained model then repeats itself to the limit.
ANSWER_TOKENS = {
    "label": 128,
    "choice": 128,
    "open_answer": 128,
    "option": 128,
    "events": 384,
    "avvp": 512,
    "caption": 256,
    "mask": 192,
    "refavs": 192,
    "box": 192,
}


def answer_tokens(dataset: str | DatasetSpec) -> int:
    """The default ``max_new_tokens`` of ``dataset``'s task (:data:`ANSWER_TOKENS`; 512 for another family)."""
    spec = get_spec(dataset) if isinstance(dataset, str) else dataset
    return ANSWER_TOKENS.get(spec.family, 512)


def family_of(dataset: str | DatasetSpec) -> Family:
    """The answer family of ``dataset`` (a name or a spec), bound to its spec; ``KeyError`` when it has none."""
    spec = get_spec(dataset) if isinstance(dataset, str) else dataset
    if spec.family not in FAMILIES:
        raise KeyError(
            f"no answer family for dataset {spec.name!r} (family {spec.family!r}; known: {', '.join(FAMILIES)})"
        )
    return FAMILIES[spec.family](spec)


__all__ = [
    "ANSWER_TOKENS",
    "FAMILIES",
    "Family",
    "FrameStats",
    "Score",
    "ScoreConfig",
    "SpatialFamily",
    "answer_tokens",
    "family_of",
    "higher_is_better",
]
