"""crabplus.tasks: the unified interface of the seven task types.

``registry`` (what each dataset is), ``formats`` (structured answer -> target text), ``parsers``
(generated text -> structured prediction) and ``normalize`` (when two answers say the same thing).
The names below are imported lazily: ``crabplus.data.records`` imports ``tasks.registry`` while the
parsers import ``records``, so an eager import here would be circular.
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "registry": ("DATASETS", "DATASET_NAMES", "TASK_TYPES", "DatasetSpec", "get_spec"),
    "formats": ("render_answer", "render_target", "render_instruction", "target_for"),
    "parsers": ("Prediction", "parse_prediction", "parse_answer", "resolve_option"),
    "normalize": ("normalize_answer", "answers_match"),
})
