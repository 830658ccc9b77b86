"""Temperature-based task-balanced sampling, deterministic and resumable from a step number.

Why temperature sampling: datasets differ in size by orders of magnitude; drawing proportionally
(T = 1) lets the big ones drown the small ones, drawing uniformly (T -> inf) over-fits the small
ones. ``p_d ∝ n_d^(1/T)`` interpolates (the mixing rule of T5/mT5-style multi-task training).
With ``task_of`` (balance by task type) every task type gets the same share, split among its datasets
by the same rule: five emotion datasets then share what the one captioning dataset gets alone, instead
of drawing five times as often (the tiny demo learns emotion in a few hundred steps and captioning,
action and matching not at all in its budget; docs/training.md).

Why a pure function of the step: resume must replay exactly the batches an uninterrupted run would
have seen, also when a DataLoader's workers have prefetched ahead. So the batch of optimizer step
``k`` is a function of (seed, dataset sizes, temperature, ``k``) only:

- which dataset each of the step's ``G`` draws comes from: ``default_rng([seed, 0, k]).choice``;
- which record of dataset ``d`` its ``j``-th draw overall takes: the ``j mod n_d`` entry of a
  permutation seeded by ``[seed, 1, d, j // n_d]`` (every record once per dataset-epoch).

``j`` depends on how many draws of ``d`` the earlier steps made; :meth:`batches_from` recomputes
those counts by replaying the (cheap) dataset choices, so the only state to save is the step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import numpy as np

from crabplus.utils.errors import CrabplusError


class SamplerError(CrabplusError, ValueError):
    """The sampler cannot be built or a saved state does not belong to this sampler."""


def mixing_weights(
    sizes: dict[str, int], temperature: float, task_of: dict[str, str] | None = None
) -> dict[str, float]:
    """``p_d = n_d^(1/T) / Σ n^(1/T)`` over the datasets with at least one record; with ``task_of`` (dataset
    -> task type) ``p_d = (1/K) · n_d^(1/T) / Σ_{d' of d's task} n_d'^(1/T)`` over the K task types present."""
    if temperature <= 0:
        raise SamplerError(f"sampling temperature must be > 0, got {temperature}")
    sizes = {d: n for d, n in sizes.items() if n > 0}
    if not sizes:
        raise SamplerError("no training records: every dataset is empty")
    # Computed in log space so that huge sizes with a small T do not overflow.
    logs = np.array([np.log(n) / temperature for n in sizes.values()])
    w = np.exp(logs - logs.max())
    if task_of is not None:
        missing = sorted(d for d in sizes if d not in task_of)
        if missing:
            raise SamplerError(f"balance by task type: no task type for dataset(s) {missing}")
        tasks = [task_of[d] for d in sizes]
        per_task = {t: sum(wi for wi, ti in zip(w, tasks) if ti == t) for t in set(tasks)}
        w = np.array([wi / per_task[t] for wi, t in zip(w, tasks)])
    w /= w.sum()
    return dict(zip(sizes, w.tolist()))


class TaskBalancedSampler:
    """Global batches of indices into the concatenation of the datasets, step by step.

    ``groups`` maps a dataset name to the global indices of its records (e.g. its positions in a
    ``ConcatDataset``). ``samples_per_step`` is the global count of one optimizer step
    (per-device batch × grad accumulation × world size); :func:`shard` cuts it per rank.
    """

    def __init__(
        self,
        groups: dict[str, list[int]],
        *,
        temperature: float,
        seed: int,
        samples_per_step: int,
        task_of: dict[str, str] | None = None,
    ):
        if samples_per_step < 1:
            raise SamplerError(f"samples_per_step must be >= 1, got {samples_per_step}")
        self.names = sorted(d for d, idx in groups.items() if len(idx) > 0)
        if not self.names:
            raise SamplerError("no training records: every dataset is empty")
        self.groups = {d: np.asarray(groups[d], dtype=np.int64) for d in self.names}
        self.sizes = {d: len(self.groups[d]) for d in self.names}
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.samples_per_step = int(samples_per_step)
        self.task_of = {d: task_of[d] for d in self.names if d in task_of} if task_of is not None else None
        weights = mixing_weights(self.sizes, self.temperature, task_of)
        self.probs = np.array([weights[d] for d in self.names])

    # -- the pure functions --------------------------------------------------------------------

    def _choices(self, step: int) -> np.ndarray:
        """(G,) dataset numbers of the draws of ``step``."""
        rng = np.random.default_rng([self.seed, 0, step])
        return rng.choice(len(self.names), size=self.samples_per_step, p=self.probs)

    def batches_from(self, start_step: int = 0) -> Iterator[tuple[int, list[int], list[str]]]:
        """Yield ``(step, global indices, dataset names)`` for ``start_step``, ``start_step+1``, …

        The first call replays the dataset choices of steps ``0 .. start_step-1`` to know how
        far each dataset's permutation has gone (microseconds per step).
        """
        counts = np.zeros(len(self.names), dtype=np.int64)
        for step in range(start_step):
            counts += np.bincount(self._choices(step), minlength=len(self.names))
        step = start_step
        perm_cache: dict[tuple[int, int], np.ndarray] = {}
        while True:
            indices, names = [], []
            for d in self._choices(step).tolist():
                name = self.names[d]
                n = self.sizes[name]
                epoch, pos = divmod(int(counts[d]), n)
                key = (d, epoch)
                if key not in perm_cache:
                    # Only the current epoch's permutation of each dataset is kept.
                    for old in [k for k in perm_cache if k[0] == d]:
                        del perm_cache[old]
                    perm_cache[key] = np.random.default_rng([self.seed, 1, d, epoch]).permutation(n)
                indices.append(int(self.groups[name][perm_cache[key][pos]]))
                names.append(name)
                counts[d] += 1
            yield step, indices, names
            step += 1

    # -- resume --------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """A hash of everything that determines the stream: a resume with other data is refused."""
        blob = json.dumps(
            {
                "sizes": self.sizes,
                "t": self.temperature,
                "seed": self.seed,
                "g": self.samples_per_step,
                **({"tasks": self.task_of} if self.task_of else {}),
                "groups": {d: hashlib.sha1(self.groups[d].tobytes()).hexdigest() for d in self.names},
            },
            sort_keys=True,
        )
        return hashlib.sha1(blob.encode()).hexdigest()

    def state_dict(self, next_step: int) -> dict:
        return {
            "next_step": int(next_step),
            "fingerprint": self.fingerprint(),
            "weights": dict(zip(self.names, self.probs.tolist())),
        }

    def check_state(self, state: dict) -> int:
        """The step to continue from; raises when ``state`` came from a different data mix."""
        if state.get("fingerprint") != self.fingerprint():
            raise SamplerError(
                "the checkpoint's sampler was built over different training data or settings "
                "(record files, datasets, sampling_temperature, sampling_balance, seed, batch size, grad_accum or "
                "world size); "
                "resume needs the same ones"
            )
        return int(state["next_step"])


def shard(indices: list[int], *, rank: int, world_size: int, micro_batches: int) -> list[list[int]]:
    """Cut one step's global indices into this rank's ``micro_batches`` lists.

    Micro-batch ``m`` of rank ``r`` is the ``(m * world_size + r)``-th equal slice, so a run on
    one process with batch ``W·b`` sees exactly the samples of ``W`` processes with batch ``b``.
    """
    total = len(indices)
    per = total // (world_size * micro_batches)
    if per * world_size * micro_batches != total:
        raise SamplerError(f"{total} samples do not split into {world_size} ranks x {micro_batches} micro-batches")
    return [indices[(m * world_size + rank) * per : (m * world_size + rank + 1) * per] for m in range(micro_batches)]
