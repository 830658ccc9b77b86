"""crabplus.tasks: the unified interface of the seven task types.

``registry`` (what each dataset is), ``formats`` (structured answer -> target text), ``parsers``
(generated text -> structured prediction) and ``normalize`` (when two answers say the same thing).
The names below are imported lazily: ``crabplus.data.records`` imports ``tasks.registry`` while the
parsers import ``records``, so an eager import here would be circular.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DATASETS": "registry",
    "DATASET_NAMES": "registry",
    "TASK_TYPES": "registry",
    "DatasetSpec": "registry",
    "get_spec": "registry",
    "render_answer": "formats",
    "render_target": "formats",
    "render_instruction": "formats",
    "target_for": "formats",
    "Prediction": "parsers",
    "parse_prediction": "parsers",
    "parse_answer": "parsers",
    "resolve_option": "parsers",
    "normalize_answer": "normalize",
    "answers_match": "normalize",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crabplus.tasks' has no attribute {name!r}")
    return getattr(importlib.import_module(f"crabplus.tasks.{module}"), name)
