"""Prediction over records, for evaluation: left-padded batches, greedy decoding, routing per sample.

Rows are :class:`crabplus.schema.rows.PredictionRow` (``id``, ``dataset``, ``predict``, ``routing``, and
``notes`` on media that had to be completed); ``routing`` maps each I-LoRA layer to the mean
router weight of each head over the sample's prompt tokens (``{}`` without I-LoRA or when not
recorded). ``crabplus eval`` reads the JSONL that :func:`write_predictions` writes.

The release right-pads generation batches, which puts pad tokens between a short prompt and its
answer (the release; docs/media.md); we left-pad, so a sample's answer does not depend on its batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from crabplus.infer.predictor import Predictor, as_predictor
from crabplus.schema.records import Record
from crabplus.schema.rows import PredictionRow
from crabplus.utils.io import atomic_write_jsonl
from crabplus.utils.progress import progress_bar


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def has_ilora(model) -> bool:
    """Whether the model carries I-LoRA layers (then its routing can be recorded)."""
    from crabplus.adapters import ilora_layers

    return next(iter(ilora_layers(model)), None) is not None


def _prompt_routing(recorder, attention_mask: torch.Tensor) -> list[dict[str, list[float]]]:
    """Mean router weights over each row's prompt tokens.

    attention_mask: (B, T) of the prompt; a recorder that also saw the decoding steps recorded T + steps
    positions, and the mask is then extended with zeros over the generated ones before averaging.
    """
    if not recorder.batched:
        return [{} for _ in range(attention_mask.shape[0])]
    recorded = recorder.weights(next(iter(recorder.batched))).shape[1]
    extra = recorded - attention_mask.shape[1]
    mask = torch.nn.functional.pad(attention_mask.cpu(), (0, extra), value=0)  # (B, recorded)
    return recorder.summary(mask)


def _task_conditioned(predictor: Predictor) -> int | None:
    cfg = predictor.model_cfg
    settings = cfg.adapter_settings()
    if getattr(settings, "task_conditioned", False):
        return settings.num_tasks
    return None


def encode_batch(
    predictor: Predictor, records: Sequence[Record], root: str | Path, *, complete_streams: bool = True
) -> tuple[list[dict], dict]:
    """The records' samples and their left-padded batch, ready for generation; a task-conditioned router
    is told each row's task. ``complete_streams``: a missing audio track or picture is replaced (with a
    note in the sample) instead of refused (``CrabProcessor.encode``)."""
    samples = [
        predictor.processor.encode(rec, root, with_target=False, complete_streams=complete_streams) for rec in records
    ]
    return samples, collate_samples(predictor, records, samples)


def collate_samples(
    predictor: Predictor, records: Sequence[Record], samples: Sequence[dict], *, pad_multiple: int = 1
) -> dict:
    """The left-padded batch of already encoded samples (one per record); the prompt length is rounded up to
    a multiple of ``pad_multiple`` with more left padding (a compiled decoder then meets fewer shapes; the
    answers do not change, positions come from the attention mask)."""
    from crabplus.adapters import set_task_ids
    from crabplus.data.collate import collate
    from crabplus.model.taskids import task_ids
    from crabplus.schema.tokens import special_token_ids

    pad = special_token_ids(predictor.tokenizer)["pad"]
    batch = collate(list(samples), pad, "left")
    extra = -batch["input_ids"].shape[1] % pad_multiple
    if extra:
        batch["input_ids"] = torch.nn.functional.pad(batch["input_ids"], (extra, 0), value=pad)  # [B, T + extra]
        batch["attention_mask"] = torch.nn.functional.pad(batch["attention_mask"], (extra, 0), value=0)
    num_tasks = _task_conditioned(predictor)
    if num_tasks is not None:
        set_task_ids(predictor.model, task_ids([r.dataset for r in records], num_tasks))
    return batch


def generate_rows(
    predictor: Predictor,
    records: Sequence[Record],
    samples: Sequence[dict],
    *,
    max_new_tokens: int | None,
    record_routing: bool,
    compiled: bool = False,
    pad_multiple: int = 1,
    min_rows: int = 1,
) -> list[PredictionRow]:
    """Rows for encoded samples, answered in one left-padded batch (``compiled``: CUDA graphs over a static
    cache, :func:`crabplus.model.generate.generate`); ``max_new_tokens`` None: the longest of the
    records' tasks' defaults (:func:`crabplus.tasks.families.answer_tokens`). ``min_rows``: on the CPU, a
    smaller batch is decoded beside copies of its last sample (their answers dropped), so that every product has
    at least that many rows (:func:`crabplus.infer.batching.cpu_min_rows` says why)."""
    from crabplus.adapters import RoutingRecorder
    from crabplus.model.generate import generate
    from crabplus.tasks.families import answer_tokens

    if max_new_tokens is None:
        max_new_tokens = max(answer_tokens(r.dataset) for r in records)

    n = len(samples)
    if n < min_rows and next(predictor.model.parameters()).device.type == "cpu":
        records = list(records) + [records[-1]] * (min_rows - n)
        samples = list(samples) + [samples[-1]] * (min_rows - n)
    batch = collate_samples(predictor, records, samples, pad_multiple=pad_multiple)
    record = record_routing and has_ilora(predictor.model)
    recorder = RoutingRecorder(predictor.model, first_call_only=True) if record else contextlib.nullcontext()
    with recorder as rec:
        texts = generate(predictor.model, predictor.tokenizer, batch, max_new_tokens=max_new_tokens, compiled=compiled)
    routing = _prompt_routing(rec, batch["attention_mask"]) if record else [{} for _ in records]
    # notes: a stream that was missing and replaced (see CrabProcessor.encode)
    return [
        PredictionRow(r.id, r.dataset, text, route, notes=list(sample.get("notes") or []))
        for r, text, route, sample in zip(records[:n], texts, routing, samples)
    ]


def predict_batch(
    predictor: Predictor,
    records: Sequence[Record],
    root: str | Path,
    *,
    max_new_tokens: int | None,
    record_routing: bool,
    min_rows: int = 1,
) -> list[PredictionRow]:
    """Rows for one batch of records (all in one left-padded batch; ``min_rows`` as :func:`generate_rows`)."""
    samples = [predictor.processor.encode(rec, root, with_target=False, complete_streams=True) for rec in records]
    return generate_rows(
        predictor, records, samples, max_new_tokens=max_new_tokens, record_routing=record_routing, min_rows=min_rows
    )


def predict_records(
    checkpoint_or_model,
    records: Sequence[Record],
    root: str | Path,
    *,
    batch_size: int = 4,
    max_new_tokens: int = 512,
    record_routing: bool = True,
    progress: bool = True,
    image_size: int | None = None,
    cache_dir: str | None = None,
) -> list[PredictionRow]:
    """Answer every record (media under ``root``) with the model of a checkpoint folder or a
    :class:`Predictor`; rows come back in the records' order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(checkpoint_or_model, Predictor):
        predictor = checkpoint_or_model
    else:
        predictor = as_predictor(checkpoint_or_model, image_size=image_size, cache_dir=cache_dir)
    rows: list[PredictionRow] = []
    bar_cm = progress_bar("predict", total=len(records)) if progress else contextlib.nullcontext()
    with bar_cm as bar:
        for chunk in _chunks(list(records), batch_size):
            rows.extend(
                predict_batch(predictor, chunk, root, max_new_tokens=max_new_tokens, record_routing=record_routing)
            )
            if bar is not None:
                bar.update(len(chunk))
    return rows


def write_predictions(path: str | Path, rows: Iterable[PredictionRow]) -> Path:
    """The prediction JSONL (atomic: a crash leaves the old file or the whole new one)."""
    return atomic_write_jsonl(path, [row.to_json() for row in rows])
