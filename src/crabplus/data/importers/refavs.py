"""Ref-AVS ground truth: ``metadata.csv`` and the mask layout (benchmarks.md §4).

``metadata.csv`` is comma-separated with a header ``vid,uid,split,fid,exp``::

    --KCIeTv6PM_14000_24000,--KCIeTv6PM_14000_24000_cat_1,val,0,The object having white and gray fur.

``split`` is train / val / test_s (seen) / test_u (unseen) / test_n (null: the expression refers to
nothing, the mask is empty); 25 rows of the real file are marked ``TODO`` and are not samples (they
are counted, not returned). Masks: ``gt_mask/{vid}/fid_{fid}/0000{t}.png`` for t = 0..9
(:func:`crabplus.data.importers.masks.refavs_sample_masks`). The ``uid`` is ``{vid}_{category}_{n}``,
so it names the referred object's category (:func:`category_of`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from crabplus.schema.records import RecordError

REFAVS_SPLITS = ("train", "val", "test_s", "test_u", "test_n")
_COLUMNS = ("vid", "uid", "split", "fid", "exp")


@dataclass(frozen=True)
class RefAvsExpression:
    vid: str
    uid: str
    split: str
    fid: str
    expression: str

    @property
    def exists(self) -> bool:
        """False for the null split: the expression refers to no object in the clip."""
        return self.split != "test_n"


def category_of(uid: str, vid: str) -> str | None:
    """The object category encoded in a Ref-AVS ``uid`` (``{vid}_{category}_{n}``), or None when the
    uid does not have that shape. Underscores inside the category are kept as spaces."""
    prefix = vid + "_"
    if not uid.startswith(prefix):
        return None
    rest, _, n = uid[len(prefix) :].rpartition("_")
    if not rest or not n.isdigit():
        return None
    return rest.replace("_", " ")


def read_refavs_metadata(path: str | Path) -> tuple[list[RefAvsExpression], int]:
    """The expressions of ``metadata.csv`` in file order, and the number of ``TODO`` rows left out."""
    path = Path(path)
    if not path.is_file():
        raise RecordError("no such Ref-AVS metadata file", file=str(path))
    out: list[RefAvsExpression] = []
    todo = 0
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header[: len(_COLUMNS)]) != _COLUMNS:
            raise RecordError(f"expected the header {','.join(_COLUMNS)!r}, got {header!r}", file=str(path), line=1)
        for lineno, row in enumerate(reader, start=2):
            if not row or not any(c.strip() for c in row):
                continue
            if any(c.strip() == "TODO" for c in row):
                todo += 1
                continue
            if len(row) < len(_COLUMNS):
                raise RecordError(
                    f"expected {len(_COLUMNS)} fields, got {len(row)}: {row!r}", file=str(path), line=lineno
                )
            # an unquoted comma inside the expression would split it; join the tail back
            vid, uid, split, fid = (c.strip() for c in row[:4])
            expression = ",".join(row[4:]).strip()
            if split not in REFAVS_SPLITS:
                raise RecordError(
                    f"unknown split {split!r} (known: {', '.join(REFAVS_SPLITS)})",
                    file=str(path),
                    line=lineno,
                    field="split",
                )
            if not fid.isdigit():
                raise RecordError(f"fid must be a whole number, got {fid!r}", file=str(path), line=lineno, field="fid")
            out.append(RefAvsExpression(vid, uid, split, fid, expression))
    return out, todo


def refavs_index(rows: list[RefAvsExpression]) -> dict[str, list[RefAvsExpression]]:
    """``uid -> expressions``: one object (uid) can be referred to by several expressions."""
    out: dict[str, list[RefAvsExpression]] = {}
    for r in rows:
        out.setdefault(r.uid, []).append(r)
    return out


def find_expression(
    index: dict[str, list[RefAvsExpression]], uid: str, expression: str | None
) -> RefAvsExpression | None:
    """The metadata row of object ``uid`` with this expression (case and surrounding space ignored);
    the only row of ``uid`` when no expression is given; None when nothing matches."""
    rows = index.get(uid, [])
    if expression is None:
        return rows[0] if len(rows) == 1 else None
    key = expression.strip().lower()
    return next((r for r in rows if r.expression.strip().lower() == key), None)
