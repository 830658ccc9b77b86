"""What a dataset is, as a type: :class:`DatasetSpec` and the media layouts it names.

Apart from the registry (``registry.py``, the 19 rows) so that the perception corpus's layouts
(``perception.py``) can be specs too without the two modules importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Visual = Literal["video", "image", "two_videos"]
AudioWindow = Literal["tenths", "ten_of_60s", "first4", "fifths", "one_fifth", "one_tenth"]

LEAD_IN = {
    "video": "This is a video and an audio:",
    "two_videos": "These are two videos and an audio:",
    "two_audios": "This is a video and two audio clips:",
    "image": "This is an image and an audio:",
}


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset (a task flag of the release) is.

    ``family`` names the answer family (``label``, ``choice``, ``open_answer``, ``option``, ``events``, ``avvp``,
    ``caption``, ``mask``, ``refavs``, ``box``): how the answer is written, read back, scored and guessed at
    chance lives there (``crabplus.tasks.families``), so a benchmark of an existing answer shape is one row here.
    ``answer_fields`` are the fields of :class:`crabplus.schema.records.Answer` a record must fill.
    ``instruction`` may hold ``{question}``, ``{options}`` or ``{expression}`` placeholders, filled
    from the record's answer/meta by :func:`crabplus.tasks.formats.render_instruction`.
    """

    name: str
    real_name: str
    task: str
    visual: Visual
    num_frames: int  # frames for video input (per video); 1 for image tasks
    audio_window: AudioWindow
    instruction: str
    answer_fields: tuple[str, ...]
    metric: str
    two_audios: bool = False  # v2a: one video, two audio clips joined end to end
    has_test: bool = True  # the release ships a test.json for it
    family: str | None = None  # the answer family (crabplus.tasks.families); None: no tagged answers
    # box + points are required unless a ground-truth mask is given (it may be empty: MS3 frames where
    # nothing sounds); records.py checks that rule
    prompt_unless_mask: bool = False

    @property
    def lead_in(self) -> str:
        if self.two_audios:
            return LEAD_IN["two_audios"]
        return LEAD_IN[self.visual]
