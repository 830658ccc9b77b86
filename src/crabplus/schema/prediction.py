"""The structured content of one generated text: what the families' parsers produce and the scorers read.

It sits in ``schema`` beside :class:`~crabplus.schema.records.Answer` because both sides of the pipeline speak
it: ``tasks`` (the families) fill it from text, chance draws it, ``evaluate`` scores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crabplus.schema.records import Answer, Event


@dataclass
class Prediction:
    """The structured content of one generated text (field names as :class:`Answer`).

    ``parsed`` is False when the text holds no usable answer; ``release_valid`` when the release's
    own parser would have accepted it (``crabplus.tasks.parsers``).
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
