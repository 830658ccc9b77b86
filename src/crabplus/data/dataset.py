"""A torch ``Dataset`` over unified records, encoding each sample with :class:`CrabProcessor` on demand.

Bad media: by default the :class:`~crabplus.data.media.MediaError` propagates, its message naming the file
and the record. With ``skip_bad=True`` (training over a large set) the sample is skipped and counted:
``__getitem__`` moves on to the next index that works, ``skipped`` counts skips by reason (the error's
``kind``) and ``skipped_ids`` lists the record ids per reason. A data-loader worker's counters live in the
worker, so every skip is also attached to the sample that replaced it (``sample["skipped"]``, a list of
``(id, reason, message)``) and :func:`~crabplus.data.collate.collate` gathers them into ``batch["skipped"]``
for the run to report.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from torch.utils.data import Dataset

from crabplus.data.media import MediaError
from crabplus.schema.records import Record


class RecordDataset(Dataset):
    def __init__(
        self, records: list[Record], processor, root: str | Path, *, with_target: bool = True, skip_bad: bool = False
    ):
        self.records = list(records)
        self.processor = processor
        self.root = Path(root)
        self.with_target = with_target
        self.skip_bad = skip_bad
        self.skipped: dict[str, int] = defaultdict(int)
        self.skipped_ids: dict[str, list[str]] = defaultdict(list)
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.records)

    def _encode(self, index: int) -> dict:
        record = self.records[index]
        try:
            return self.processor.encode(record, self.root, with_target=self.with_target)
        except MediaError as exc:
            raise MediaError(
                exc.path, f"{exc.problem} (record {record.id!r} of {record.dataset})", kind=exc.kind
            ) from None

    def __getitem__(self, index: int) -> dict:
        if not self.skip_bad:
            return self._encode(index)
        n = len(self.records)
        log: list[tuple[str, str, str]] = []
        for step in range(n):
            i = (index + step) % n
            if i in self._bad:
                continue
            try:
                sample = self._encode(i)
            except MediaError as exc:
                self._bad.add(i)
                rid = self.records[i].id
                self.skipped[exc.kind] += 1
                self.skipped_ids[exc.kind].append(rid)
                log.append((rid, exc.kind, str(exc)))
                continue
            if log:
                sample["skipped"] = log
            return sample
        raise MediaError(
            self.root,
            f"every one of the {n} records has unreadable media (skipped: {dict(self.skipped)})",
            kind="all_bad",
        )

    def skip_report(self) -> dict:
        """``{"count": total, "by_reason": {kind: n}, "ids": {kind: [record ids]}}`` for run reports."""
        return {
            "count": sum(self.skipped.values()),
            "by_reason": dict(self.skipped),
            "ids": {k: list(v) for k, v in self.skipped_ids.items()},
        }
