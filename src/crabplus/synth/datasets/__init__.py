"""The 19 mirror datasets: one builder per task flag, ``(Clip) -> Record``.

A registered dataset has a mirror when it has a builder here; one registered without (a real benchmark added
by its registry row) simply gets no synthetic clips.
"""

from __future__ import annotations

from collections.abc import Callable

from crabplus.schema.records import Record
from crabplus.schema.registry import dataset_names
from crabplus.synth.clip import Clip
from crabplus.synth.datasets.caption import build_avcap
from crabplus.synth.datasets.classify import build_emotion, build_ks, build_ucf
from crabplus.synth.datasets.events import build_ave, build_avvp, build_unav
from crabplus.synth.datasets.matching import build_a2v, build_v2a
from crabplus.synth.datasets.qa import build_avqa, build_avqa_thu
from crabplus.synth.datasets.refavs import build_ref_avs
from crabplus.synth.datasets.spatial import build_arig, build_ms3, build_s4
from crabplus.synth.datasets.vocab import EMOTION_DATASETS

BUILDERS: dict[str, Callable[[Clip], Record]] = {
    "ks": build_ks,
    "ucf": build_ucf,
    **{name: build_emotion for name in EMOTION_DATASETS},
    "a2v": build_a2v,
    "v2a": build_v2a,
    "avqa": build_avqa,
    "avqa_thu": build_avqa_thu,
    "ave": build_ave,
    "unav": build_unav,
    "avvp": build_avvp,
    "avcap": build_avcap,
    "s4": build_s4,
    "ms3": build_ms3,
    "ref_avs": build_ref_avs,
    "arig": build_arig,
}


def mirrored_datasets() -> list[str]:
    """The registered datasets that have a mirror, in the registry's order."""
    return [name for name in dataset_names() if name in BUILDERS]
