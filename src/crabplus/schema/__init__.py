"""crabplus.schema: the types every other part speaks, at the bottom of the package.

``registry`` (the 19 datasets: task type, media layout, instruction, answer fields), ``perception`` (the base
stage's corpus layouts), ``records`` (the unified record: ``Record``, ``Answer``, ``Event``, ``Media``, with
validation and JSON Lines IO) and ``tokens`` (the chat layout's special tokens by role, read by the processor
and the model builder alike). It imports nothing of crabplus above ``utils`` (tests/test_layering.py).
"""

from crabplus.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "registry": ("DATASETS", "DATASET_NAMES", "TASK_TYPES", "DatasetSpec", "get_spec"),
    "perception": ("PERCEPTION_SPECS", "PERCEPTION_TASK", "is_perception"),
    "records": ("Record", "Answer", "Event", "Media", "RecordError", "load_records", "write_records"),
})
