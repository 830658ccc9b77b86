"""The ``crabplus`` model for lmms-eval: ``generate_until`` over our :class:`~crabplus.infer.Predictor`.

    lmms-eval --model crabplus --model_args checkpoint=runs/tiny-ilora/final --batch_size 4 \\
        --tasks crabplus_avsynth_ave --include_path TASKS/

Registered through the entry point group ``lmms_eval.models`` (pyproject.toml), so lmms-eval finds it
once crabplus is installed. For the ``crabplus_*`` tasks the whole record is read from the document (the
media, the window of audio, the instruction: exactly what ``crabplus eval`` predicts on); for any other
task that gives a video file (and optionally an audio file) per document — WorldSense style — the record
is a free question on that video whose instruction is lmms-eval's context. Requests are answered in
left-padded batches of ``batch_size`` (greedy, as ``crabplus predict``), grouped by data root and
``max_new_tokens``; on the CPU the answers are those of ``crabplus predict`` at any batch size
(:func:`crabplus.infer.batching.cpu_min_rows`).

Several processes, as lmms-eval's own models: ``accelerate launch --num_processes N -m lmms_eval --model
crabplus ...`` (or torchrun). Each process loads the model once on its own GPU (``cuda:LOCAL_RANK``), reports
its rank and the world size from the launcher (``RANK`` / ``WORLD_SIZE``), so lmms-eval hands it its share of
the documents, and rank 0 gathers the answers and scores (lmms-eval's evaluator does both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms

from crabplus.schema.records import Record
from crabplus.schema.registry import FREE_QUESTION_DATASET

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".m4a", ".ogg")


def manifest():
    """The entry point's payload: lmms-eval's description of this model."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id="crabplus", simple_class_path="crabplus.lmms.model.Crabplus")


def foreign_record(context: str, visuals: list) -> tuple[Record, Path]:
    """A record asking ``context`` about the first video (and audio file) among ``visuals``."""
    from crabplus.infer import build_record

    others = sorted({type(v).__name__ for v in visuals if not isinstance(v, str | Path)})
    if others:
        raise NotImplementedError(
            f"the crabplus model reads media files; this task gives {others} (images or "
            f"decoded audio are not supported)"
        )
    paths = [Path(v) for v in visuals]
    video = next((p for p in paths if p.suffix.lower() in VIDEO_SUFFIXES), None)
    audio = next((p for p in paths if p.suffix.lower() in AUDIO_SUFFIXES), None)
    if video is None:
        raise NotImplementedError(
            f"the crabplus model answers about a video file (and an audio file); this task "
            f"gives {[p.name for p in paths] or 'no visual input'}"
        )
    record, root = build_record(FREE_QUESTION_DATASET, video, audio=audio, question=context)
    record.instruction = context
    return record, root


def launch_rank() -> tuple[int, int]:
    """(rank, world size) of this process as torchrun and accelerate launch set them; (0, 1) alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class Crabplus(lmms):
    """A crabplus checkpoint as an lmms-eval model (``checkpoint`` = a trained model folder)."""

    def __init__(
        self,
        checkpoint: str,
        batch_size: int | str = 1,
        max_new_tokens: int | str = 512,
        device: str | None = None,
        max_batch_size: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        from crabplus.infer import Predictor
        from crabplus.utils.gemm import request_strict_gemm

        request_strict_gemm()  # in effect only if lmms-eval has run no product yet (crabplus.model.invariant)

        if kwargs:
            raise ValueError(
                f"crabplus model: unknown model_args {sorted(kwargs)} (known: checkpoint, batch_size, "
                f"max_new_tokens, device)"
            )
        self._rank, self._world_size = launch_rank()
        if self._world_size > 1:
            from accelerate import Accelerator

            self.accelerator = Accelerator()  # the evaluator gathers through it, as for lmms-eval's own models
            device = device or (
                f"cuda:{self.accelerator.local_process_index}" if self.accelerator.device.type == "cuda" else None
            )
        self.predictor = Predictor.from_checkpoint(checkpoint, device=device)
        self._device = next(self.predictor.model.parameters()).device
        if not str(batch_size).isdigit():
            raise ValueError(f"crabplus model: --batch_size must be a number, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.max_new_tokens = int(max_new_tokens)
        if self.batch_size < 1:
            raise ValueError(f"crabplus model: batch_size must be >= 1, got {batch_size}")

    @property
    def device(self):
        """Where this process's model is (the evaluator puts its counts there to gather them)."""
        return self._device

    def _record(self, request: Instance) -> tuple[Record, Path, int]:
        context, gen_kwargs, doc_to_visual, doc_id, task, split = request.args
        doc = self.task_dict[task][split][doc_id]
        max_new = int((gen_kwargs or {}).get("max_new_tokens", self.max_new_tokens))
        if str(task).startswith("crabplus_") and "record" in doc:
            from crabplus.lmms.tasks import doc_record

            return doc_record(doc), Path(doc["root"]), max_new
        record, root = foreign_record(context, doc_to_visual(doc))
        return record, root, max_new

    def _batches(self, items: list[tuple[int, Record, Path, int]]) -> Iterator[list[tuple[int, Record, Path, int]]]:
        groups: dict[tuple[str, int], list] = {}
        for item in items:
            groups.setdefault((str(item[2]), item[3]), []).append(item)
        for group in groups.values():
            for start in range(0, len(group), self.batch_size):
                yield group[start : start + self.batch_size]

    def generate_until(self, requests: list[Instance]) -> list[str]:
        from crabplus.infer.batch import predict_batch
        from crabplus.infer.batching import cpu_min_rows

        items = [(i, *self._record(r)) for i, r in enumerate(requests)]
        answers: list[str | None] = [None] * len(requests)
        for batch in self._batches(items):
            # cpu_min_rows: the same answers whatever batch a document falls in, so whatever the process count
            rows = predict_batch(
                self.predictor,
                [rec for _, rec, _, _ in batch],
                batch[0][2],
                max_new_tokens=batch[0][3],
                record_routing=False,
                min_rows=cpu_min_rows(),
            )
            for (index, *_), row in zip(batch, rows):
                answers[index] = row.predict
        return answers

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError("the crabplus model generates answers (generate_until tasks) only")

    def generate_until_multi_round(self, requests) -> list[str]:
        raise NotImplementedError("the crabplus model answers single-round requests only")
