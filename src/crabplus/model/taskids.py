"""Task ids for the task-conditioned I-LoRA router (an option beyond the paper, default off).

The id of a sample is its dataset's *task type* (``TASK_TYPES``, 7 of them), not the dataset: the
router should learn what kind of output a task needs, and datasets of one type share it (as they
share an instruction and an answer format). Training and prediction use this one mapping.
"""

from __future__ import annotations

import torch

from crabplus.schema.registry import TASK_TYPES, get_spec

NUM_TASK_IDS = len(TASK_TYPES)


def task_ids(datasets: list[str], num_tasks: int) -> torch.Tensor:
    """(B,) long ids of the samples' task types; ``num_tasks`` (``model.ilora.num_tasks``) must cover 7."""
    if num_tasks < NUM_TASK_IDS:
        raise ValueError(
            f"model.ilora.num_tasks is {num_tasks}; the task-conditioned router numbers the "
            f"{NUM_TASK_IDS} task types ({', '.join(TASK_TYPES)}), so it must be >= {NUM_TASK_IDS}"
        )
    return torch.tensor([TASK_TYPES.index(get_spec(d).task) for d in datasets], dtype=torch.long)
