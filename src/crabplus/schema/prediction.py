"""The structured content of one generated text: what the families' parsers produce and the scorers read.

A prediction is the :class:`~crabplus.schema.records.Answer` the model stated plus how it was read: ``parsed``
(the text held a usable answer), ``release_valid`` (the release's own, stricter parser would have accepted it)
and ``notes``. It sits in ``schema`` beside ``Answer`` because both sides of the pipeline speak it: ``tasks``
(the families) fill it from text, chance draws it, ``evaluate`` scores it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from crabplus.schema.records import Answer

#: The answer fields a model states (the rest of :class:`Answer`, options, references and the mask file, come
#: with the record, never from generated text).
STATED: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Answer) if f.name not in ("options", "references", "mask")
)


@dataclass(init=False)
class Prediction:
    """The answer in one generated text, and whether it could be read.

    ``Prediction(label="dog", parsed=True)`` builds the answer from its fields; ``prediction.label`` reads (and
    assigning it writes) ``prediction.answer.label``, for every field in :data:`STATED`.
    """

    answer: Answer
    parsed: bool = False
    release_valid: bool = False
    notes: list[str] = field(default_factory=list)

    def __init__(
        self,
        answer: Answer | None = None,
        *,
        parsed: bool = False,
        release_valid: bool = False,
        notes: list[str] | None = None,
        **stated: Any,
    ):
        unknown = sorted(set(stated) - set(STATED))
        if unknown:
            raise TypeError(f"Prediction: unknown answer fields {unknown} (known: {', '.join(STATED)})")
        if answer is not None and stated:
            raise TypeError("Prediction: give the answer or its fields, not both")
        self.answer = answer if answer is not None else Answer(**stated)
        self.parsed, self.release_valid = parsed, release_valid
        self.notes = list(notes) if notes is not None else []

    def __getattr__(self, name: str) -> Any:  # only reached when ordinary lookup fails
        answer = self.__dict__.get("answer")  # absent while a copy is being built
        if name in STATED and answer is not None:
            return getattr(answer, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in STATED:
            setattr(self.answer, name, value)
        else:
            object.__setattr__(self, name, value)

    def to_answer(self, options: list[str] | None = None) -> Answer:
        """The :class:`Answer` this prediction states (``options`` kept for multiple choice)."""
        return dataclasses.replace(self.answer, options=options if self.answer.choice is not None else None)

    def to_json(self) -> dict[str, Any]:
        """One flat object: the stated answer fields (events as objects), then parsed, release_valid, notes."""
        answer = dataclasses.asdict(self.answer)
        return {
            **{k: answer[k] for k in STATED},
            "parsed": self.parsed,
            "release_valid": self.release_valid,
            "notes": list(self.notes),
        }
