"""crabplus.tasks: how each answer is written and read back.

``formats`` (structured answer -> target text), ``parsers`` (generated text -> structured prediction) and
``normalize`` (when two answers say the same thing). What each dataset *is* lives below, in
``crabplus.schema`` (the registry and the record types); this package builds on it.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "formats": ("render_answer", "render_target", "render_instruction", "target_for"),
    "parsers": ("Prediction", "parse_prediction", "parse_answer", "resolve_option"),
    "normalize": ("normalize_answer", "answers_match"),
})
