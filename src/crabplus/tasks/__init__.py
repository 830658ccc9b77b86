"""crabplus.tasks: how each answer is written and read back.

``families`` (one object per answer family: how an answer of that shape is written, read back, scored and
guessed at chance; ``family_of(spec)``), with ``formats`` (structured answer -> target text) and ``parsers``
(generated text -> structured prediction) as their front doors, and ``normalize`` (when two answers say the same
thing). What each dataset *is* lives below, in
``crabplus.schema`` (the registry and the record types); this package builds on it.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "formats": ("render_answer", "render_target", "render_instruction", "target_for"),
        "parsers": ("Prediction", "parse_prediction", "parse_answer", "resolve_option"),
        "normalize": ("normalize_answer", "answers_match"),
        "families": ("FAMILIES", "family_of"),
    },
)
