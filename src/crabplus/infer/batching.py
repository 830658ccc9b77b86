"""Batches for prediction over many inputs: which inputs go together, and one batch answered with its bad
inputs skipped and counted.

Why bucket: a batch is as long as its longest prompt, so inputs of one task (the same media layout, the same
instruction) with prompts of about the same length go together; the plan sorts by (dataset, instruction
tokens, input position) and cuts batches of ``batch_size`` from that order. The media's share of the prompt is
not known before decoding it (tens of thousands of clips are not decoded twice), but within one dataset it
hardly varies. The plan depends on the inputs alone, never on what is already answered, so every rank of a
data-parallel run computes the same plan (:mod:`crabplus.infer.shards`).

Rows do not depend on their batch: a sample's answer and routing are bit-equal at any batch size in float32 on
the CPU (left padding, M-RoPE positions from the attention mask, routing averaged over each row's own tokens, and
:mod:`crabplus.model.invariant` while a batch decodes: oneDNN and NNPACK off, the LLM's attention one row at a
time, products that give a row the same bits at any row count, or at least :func:`cpu_min_rows` rows per
product where MKL cannot). So the order of the work never shows in the output, which is written back in input
order at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crabplus.schema.records import Record
from crabplus.schema.rows import PredictionRow
from crabplus.utils.errors import CrabplusError, describe

#: A compiled decoder (CUDA graphs over a static cache) builds one graph per batch shape; prompts are
#: left-padded to a multiple of this many tokens there, so a run meets a few shapes, not one per batch.
COMPILED_PAD_MULTIPLE = 64

#: None: the fewest rows a CPU batch is decoded with is measured at run time (:func:`cpu_min_rows`); a number
#: fixes it (``benchmarks/predict.py`` sets 1 to time a lone row).
CPU_MIN_ROWS: int | None = None


def cpu_min_rows() -> int:
    """The fewest rows a batch is decoded with on the CPU (a smaller one is decoded beside copies of its last
    sample, their answers dropped): :data:`CPU_MIN_ROWS` when set, else
    :func:`crabplus.model.invariant.gemm_row_floor`, 1 where MKL's products give a row the same bits at any row
    count (its strict mode, on an Intel CPU: ``crabplus predict`` asks for it), else the row count from which
    they do (4 on the AMD EPYC measured, 16 on an Intel Xeon without the strict mode): then batch 1 costs about
    what that batch costs, which ``--batch-size`` gets back. On a GPU nothing is added (bf16 is not bit-equal
    across batch sizes anyway: docs/evaluation.md)."""
    from crabplus.model.invariant import gemm_row_floor

    return CPU_MIN_ROWS if CPU_MIN_ROWS is not None else gemm_row_floor()


def prompt_key(record: Record, tokenizer) -> tuple[str, int]:
    """What the plan sorts by: the dataset (its media layout and instruction) and the instruction's tokens."""
    return record.dataset, len(tokenizer(record.instruction, add_special_tokens=False).input_ids)


def plan_batches(keys: Sequence[tuple | None], batch_size: int) -> list[list[int]]:
    """Batches of input positions: positions sorted by ``(key, position)`` and cut every ``batch_size``.

    A ``None`` key (an input that cannot be answered: it is skipped) goes in no batch. Batch 1 keeps the
    input order. Deterministic: the same keys give the same plan in every process."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    positions = [i for i, key in enumerate(keys) if key is not None]
    if batch_size > 1:
        positions.sort(key=lambda i: (keys[i], i))
    return [positions[start : start + batch_size] for start in range(0, len(positions), batch_size)]


@dataclass
class BatchResult:
    """One batch's answered rows (in the batch's order) and the inputs skipped, with why."""

    rows: list[tuple[int, PredictionRow]] = field(default_factory=list)  # (input position, row)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (input position, reason)


#: A library's failure on one input (a decoder, a shape) is that input's skip; anything else stops the run.
INPUT_FAILURES = (CrabplusError, OSError, ValueError, RuntimeError)


def reason_for(exc: BaseException, source: str) -> str:
    """The skip reason: our errors name their file already; a library's gets the input's file in front."""
    return str(exc) if isinstance(exc, CrabplusError) else f"{source}: {describe(exc)}"


def answer_batch(
    predictor,
    entries: Sequence[tuple[int, Record, object, str]],
    *,
    max_new_tokens: int,
    compiled: bool = False,
    encode: Callable | None = None,
) -> BatchResult:
    """Answer ``entries`` (input position, record, data root, source) as one left-padded batch.

    An input whose media cannot be encoded is skipped and the rest of the batch answered. When the model
    itself fails on the batch, each input is tried alone, so that only the input at fault is skipped."""
    from crabplus.infer.batch import generate_rows

    encode = encode or (
        lambda rec, root: predictor.processor.encode(rec, root, with_target=False, complete_streams=True)
    )
    result = BatchResult()
    good: list[tuple[int, Record, str, dict]] = []
    for index, record, root, source in entries:
        try:
            good.append((index, record, source, encode(record, root)))
        except INPUT_FAILURES as exc:
            result.skipped.append((index, reason_for(exc, source)))
    if not good:
        return result
    pad_multiple = COMPILED_PAD_MULTIPLE if compiled else 1
    try:
        rows = generate_rows(
            predictor,
            [g[1] for g in good],
            [g[3] for g in good],
            max_new_tokens=max_new_tokens,
            record_routing=True,
            compiled=compiled,
            pad_multiple=pad_multiple,
            min_rows=cpu_min_rows(),
        )
    except INPUT_FAILURES as exc:
        if len(good) == 1:
            result.skipped.append((good[0][0], reason_for(exc, good[0][2])))
            return result
        for index, record, root, source in entries:  # alone, to find the input at fault
            if any(index == g[0] for g in good):
                alone = answer_batch(
                    predictor,
                    [(index, record, root, source)],
                    max_new_tokens=max_new_tokens,
                    compiled=compiled,
                    encode=encode,
                )
                result.rows += alone.rows
                result.skipped += alone.skipped
        return result
    result.rows = [(g[0], row) for g, row in zip(good, rows)]
    return result
