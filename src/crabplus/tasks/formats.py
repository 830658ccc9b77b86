"""Target formats: structured answer -> the tagged answer text the model learns to write.

Each dataset's format belongs to its answer family (``crabplus.tasks.families``, one module per family, each
docstring stating its format); this module is the front door. The conventions follow the release's test ground
truths and SAM 2 parser (the release; docs/data.md) and Crab's tags for the tasks the release leaves open.
The target is the reasoning chain (when present), a space, then the tagged answer.
"""

from __future__ import annotations

from crabplus.schema.records import Answer, Record
from crabplus.schema.registry import DatasetSpec, get_spec
from crabplus.tasks.families import family_of
from crabplus.tasks.families.events import format_time

__all__ = ["format_time", "render_answer", "render_instruction", "render_target", "target_for"]


def render_answer(dataset: str | DatasetSpec, answer: Answer) -> str:
    """The tagged answer text for ``answer`` in ``dataset``'s format (its family's)."""
    return family_of(dataset).render(answer)


def render_target(reasoning: str | None, answer_text: str) -> str:
    return f"{reasoning.strip()} {answer_text}" if reasoning else answer_text


def render_instruction(
    dataset: str | DatasetSpec,
    *,
    question: str | None = None,
    options: list[str] | None = None,
    expression: str | None = None,
) -> str:
    """The dataset's instruction with its placeholders filled (as the release formats them:
    the options list appears as its Python repr, the Ref-AVS expression lower-cased)."""
    spec = get_spec(dataset) if isinstance(dataset, str) else dataset
    return spec.instruction.format(
        question=question or "",
        options=repr(options) if options is not None else "",
        expression=(expression or "").lower(),
    )


def target_for(record: Record) -> str:
    """Re-render a record's target from its reasoning and structured answer."""
    return render_target(record.reasoning, render_answer(record.dataset, record.answer))
