"""The perception pretraining corpus's input layouts: what the base stage trains on, and nothing else.

The base stage stands in for a pretrained backbone (Qwen2.5-Omni perceives audio and video but has never
seen the 17 benchmarks' instructions or tagged answers). Its corpus (``crabplus.synth.pretrain``) asks plain
questions about AVSynth clips of its own and answers them in plain sentences. Each entry here is one media
*layout* the processor must know (frames, audio window, number of candidates), shaped like those of the
mirror datasets so that the base learns to perceive every layout the instruction-tuned tasks use:

- ``pt_scene``: a 10 s video and its sound track (the layout of action, QA, localisation, captioning);
- ``pt_face``: a 4 s talking face (the emotion datasets' layout);
- ``pt_still``: one frame plus one fifth of the sound track (the AVSBench-like layout);
- ``pt_still10``: one frame plus one tenth of a 10 s sound track (the Ref-AVS-like layout);
- ``pt_pair``: a sound and two videos joined in time (the audio->video matching layout);
- ``pt_sounds``: a video and two sound tracks joined end to end (the video->audio matching layout).

Their task type is ``perception``, never one of the seven instruction-tuned types; their instructions are
the corpus's own questions (the ``instruction`` field here is only a description and is never rendered).
"""

from __future__ import annotations

from crabplus.schema.spec import DatasetSpec

PERCEPTION_TASK = "perception"

_DESC = "(perception corpus: the record's own question)"

PERCEPTION_SPECS: dict[str, DatasetSpec] = {
    s.name: s
    for s in [
        DatasetSpec(
            "pt_scene", "AVSynth perception: scenes", PERCEPTION_TASK, "video", 10, "tenths", _DESC, (), "none"
        ),
        DatasetSpec("pt_face", "AVSynth perception: faces", PERCEPTION_TASK, "video", 4, "first4", _DESC, (), "none"),
        DatasetSpec(
            "pt_still", "AVSynth perception: stills", PERCEPTION_TASK, "image", 1, "one_fifth", _DESC, (), "none"
        ),
        DatasetSpec(
            "pt_still10",
            "AVSynth perception: stills, tenths",
            PERCEPTION_TASK,
            "image",
            1,
            "one_tenth",
            _DESC,
            (),
            "none",
        ),
        DatasetSpec(
            "pt_pair",
            "AVSynth perception: a sound and two videos",
            PERCEPTION_TASK,
            "two_videos",
            10,
            "tenths",
            _DESC,
            (),
            "none",
        ),
        DatasetSpec(
            "pt_sounds",
            "AVSynth perception: a video and two sounds",
            PERCEPTION_TASK,
            "video",
            10,
            "tenths",
            _DESC,
            (),
            "none",
            two_audios=True,
        ),
    ]
}

PERCEPTION_NAMES: tuple[str, ...] = tuple(PERCEPTION_SPECS)


def is_perception(dataset: str) -> bool:
    """Whether ``dataset`` is one of the corpus's layouts (not one of the 19 instruction datasets)."""
    return dataset in PERCEPTION_SPECS
