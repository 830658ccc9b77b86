"""``crabplus predict``: answer a task on your own video, or on many inputs at once.

One media file: prints the answer text and the structured prediction (segmentation tasks also write
the mask PNG). A record file, a folder or a glob (or several inputs): writes prediction JSON Lines
that ``crabplus eval`` reads, row by row, resumable, with unreadable inputs counted and reported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: Settings that also have a flag of their own, generated from the field (--max-new-tokens 8 is
#: max_new_tokens=8); the positional INPUTs set ``inputs``.
SHORTCUTS = (
    "messages",
    "task",
    "checkpoint",
    "base",
    "device",
    "audio",
    "video2",
    "audio2",
    "question",
    "options",
    "expression",
    "frame_second",
    "root",
    "output",
    "out",
    "max_new_tokens",
    "segmenter",
    "sam2_checkpoint",
    "batch_size",
    "decode",
    "merge",
    "allow_empty",
    "allow_changed_settings",
)


def register(sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.infer.config import PredictConfig

    parser = sub.add_parser(
        "predict",
        help="answer a task on your own video, or on a record file / folder / glob of inputs",
        description="One video: answer one task (a dataset name: ks, ave, s4, avqa, ...) and print the answer "
        "and the structured prediction; segmentation tasks also write the mask PNG (at the video's own size). "
        "Many inputs "
        "(a record file *.jsonl, a folder, a glob, or several files): write prediction JSON Lines (--output) "
        "that `crabplus eval` reads; a re-run skips the rows already written, and an unreadable input is "
        "skipped, counted and listed in OUTPUT.skipped.jsonl; the resolved settings go to OUTPUT.config.yaml "
        "(one video: OUT/resolved_config.yaml, with --out). Settings: --config FILE, then the flags, then "
        "KEY=VALUE overrides; every flag sets the key of the same name. "
        "Data parallel: `torchrun --nproc_per_node=N -m crabplus predict ... --output P`: each rank answers "
        "its shard into P.rank<r>-of-<N>.jsonl and resumes it after a crash; rank 0 merges them into P at the "
        "end (or `crabplus predict --merge P` after a partial run).",
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="a video (or, for image tasks, a still image with --audio); or record files, folders, "
        "globs (quote them) for many. KEY=VALUE tokens among them are dotted overrides of the "
        "settings (e.g. max_new_tokens=32), applied last",
    )
    add_config_arguments(parser, PredictConfig, shortcuts=SHORTCUTS, positional_overrides=False)
    parser.add_argument("--json", action="store_true", help="print the result (or the run's summary) as JSON")
    parser.set_defaults(func=run)


def _single(cfg) -> bool:
    """The one-video form: exactly one input, a media file, and no --output."""
    from crabplus.infer.many import is_record_file

    if len(cfg.inputs) != 1 or cfg.output is not None:
        return False
    path = Path(cfg.inputs[0])
    return not path.is_dir() and not is_record_file(path) and not any(ch in cfg.inputs[0] for ch in "*?[")


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.cli import config_from_args, split_overrides
    from crabplus.infer.config import PredictConfig
    from crabplus.utils.gemm import request_strict_gemm

    request_strict_gemm()  # before any product: the same rows at any batch size on the CPU (crabplus.model.invariant)
    inputs, overrides = split_overrides(args.inputs)
    cfg = config_from_args(PredictConfig, args, overrides=overrides, values={"inputs": inputs} if inputs else None)
    if cfg.merge is not None:
        return run_merge(cfg, args.json)
    if cfg.messages is not None and cfg.inputs:
        raise UsageError("give INPUTs or --messages FILE, not both")
    if not cfg.inputs and cfg.messages is None:
        raise UsageError("needs at least one INPUT (or inputs: in --config), or --messages FILE")
    if cfg.checkpoint is None:
        raise UsageError("needs --checkpoint DIR (or checkpoint: in --config), a trained model folder")
    if cfg.task is None and cfg.question is not None:
        from crabplus.schema.registry import FREE_QUESTION_DATASET

        cfg.task = FREE_QUESTION_DATASET
    if cfg.device is not None:
        _check_device(cfg.device)
    if cfg.messages is not None:
        return run_messages(cfg, args.json)
    return run_one(cfg, args.json) if _single(cfg) else run_many(cfg, args.json)


def _check_device(device: str) -> None:
    import torch

    from crabplus.cli.main import UsageError

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"--device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA device is available here; use --device cpu")


def run_messages(cfg, as_json: bool) -> int:
    """``--messages FILE.json``: one chat (Qwen2.5-Omni's message list) answered as the --task call would."""
    from crabplus.config.core import write_resolved_config
    from crabplus.infer import predict
    from crabplus.infer.chat import MessagesError
    from crabplus.utils.io import read_json

    messages = read_json(cfg.messages, lambda text: MessagesError(f"--messages {text}"))
    result = predict(
        messages=messages,
        task=cfg.task,
        checkpoint=cfg.checkpoint,
        options=cfg.options,
        out=cfg.out,
        max_new_tokens=cfg.max_new_tokens,
        segmenter=cfg.segmenter,
        sam2_checkpoint=cfg.sam2_checkpoint,
        frame_second=cfg.frame_second,
        device=cfg.device,
        base=cfg.base,
    )
    if cfg.out is not None:
        write_resolved_config(cfg, cfg.out)
    return _print_result(result, as_json)


def run_one(cfg, as_json: bool) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.core import write_resolved_config
    from crabplus.infer import predict

    if cfg.task is None:
        raise UsageError("one video needs --task (which task to ask), or --question for a free-form question")
    result = predict(
        cfg.inputs[0],
        task=cfg.task,
        checkpoint=cfg.checkpoint,
        audio=cfg.audio,
        video2=cfg.video2,
        audio2=cfg.audio2,
        question=cfg.question,
        options=cfg.options,
        expression=cfg.expression,
        frame_second=cfg.frame_second,
        out=cfg.out,
        max_new_tokens=cfg.max_new_tokens,
        segmenter=cfg.segmenter,
        sam2_checkpoint=cfg.sam2_checkpoint,
        device=cfg.device,
        base=cfg.base,
    )
    if cfg.out is not None:
        write_resolved_config(cfg, cfg.out)
    return _print_result(result, as_json)


def _print_result(result, as_json: bool) -> int:
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    print(f"answer: {result.text}")
    pred = {k: v for k, v in result.prediction.to_json().items() if v is not None and v != []}
    print("prediction: " + json.dumps(pred, ensure_ascii=False))
    for note in result.prediction.notes:
        print(f"note: {note}")
    if result.mask_path is not None:
        print(f"mask: {result.mask_path}")
    return 0


def run_merge(cfg, as_json: bool) -> int:
    """``--merge P``: the part files of a partial torchrun prediction into P, in input order."""
    from crabplus.cli.main import UsageError
    from crabplus.infer.shards import merge, part_files

    output = Path(cfg.merge)
    if cfg.inputs:
        raise UsageError(f"--merge {output} takes no INPUT (it merges what the run wrote beside {output})")
    if not output.is_file() and not part_files(output):
        raise UsageError(
            f"--merge {output}: neither that file nor its part files ({output.name}.rank<r>-of-<N>.jsonl) exist"
        )
    counts = merge(output)
    if as_json:
        print(json.dumps({"output": str(output), **counts}))
    else:
        print(
            f"merged {counts['rows']} prediction(s) into {output}"
            + (f"; {counts['skipped']} input(s) skipped" if counts["skipped"] else "")
            + (
                f"; {counts['missing']} input(s) not answered yet (run the prediction again to finish)"
                if counts["missing"]
                else ""
            )
        )
    return 0


def _rank_device(device: str | None, local_rank: int, world: int) -> str | None:
    """Under torchrun on GPUs, each rank's own GPU (``cuda:LOCAL_RANK``) unless a numbered one is named."""
    import torch

    if world > 1 and device in (None, "cuda") and torch.cuda.is_available():
        return f"cuda:{local_rank}"
    return device


def _compiled(decode: str, predictor) -> bool:
    from crabplus.cli.main import UsageError

    kind = next(predictor.model.parameters()).device.type
    if decode == "compiled" and kind != "cuda":
        raise UsageError(f"--decode compiled needs a CUDA device (the model is on {kind}); use --decode eager")
    return decode == "compiled" or (decode == "auto" and kind == "cuda")


def run_many(cfg, as_json: bool) -> int:
    from crabplus.infer.shards import Ranks

    with Ranks() as ranks:
        return _run_many(cfg, as_json, ranks)


def _run_many(cfg, as_json: bool, ranks) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.config.core import write_resolved_config
    from crabplus.infer.ids import check_unique_ids
    from crabplus.infer.many import expand_inputs, iter_items, predict_many, read_done
    from crabplus.infer.predictor import Predictor
    from crabplus.infer.resume import check_output, settings_file
    from crabplus.infer.single import free_form
    from crabplus.schema.registry import get_spec

    files = expand_inputs(cfg.inputs)
    output = Path(cfg.output) if cfg.output else Path(cfg.out or ".") / "predictions.jsonl"
    check_output(output, files)
    record_args = dict(
        audio=cfg.audio,
        video2=cfg.video2,
        audio2=cfg.audio2,
        question=cfg.question,
        options=cfg.options,
        expression=cfg.expression,
        frame_second=cfg.frame_second,
    )
    items = list(iter_items(files, task=cfg.task, root=cfg.root, record_args=record_args))
    check_unique_ids(item for item in items if item.problem is None)
    if not items and not cfg.allow_empty:
        raise UsageError(
            f"no inputs to answer in {', '.join(cfg.inputs)} (no media or record files); --allow-empty accepts that"
        )
    device = _rank_device(cfg.device, ranks.local_rank, ranks.world)
    settings = settings_file(cfg, output, resumed=bool(read_done(output))) if ranks.is_main else None
    predictor = Predictor.from_checkpoint(cfg.checkpoint, device=device, base=cfg.base) if items else None
    compiled = _compiled(cfg.decode, predictor) if predictor is not None else False
    is_free = cfg.task is not None and free_form(get_spec(cfg.task), cfg.question)
    if settings is not None:
        write_resolved_config(cfg, settings.parent, settings.name)
    summary = predict_many(
        iter(items),
        predictor,
        output,
        max_new_tokens=cfg.max_new_tokens,
        free_form=is_free,
        batch_size=cfg.batch_size,
        compiled=compiled,
        ranks=ranks,
    )
    if not ranks.is_main:
        return 0
    if as_json:
        print(json.dumps(summary.to_json()))
    else:
        print(
            f"wrote {summary.written} prediction(s) to {output}"
            + (f" ({summary.already} already there)" if summary.already else "")
            + (
                f"; skipped {len(summary.skipped)} input(s), reasons in {summary.skip_report}"
                if summary.skipped
                else ""
            )
        )
    for skip in summary.skipped[:5]:
        print(f"skipped: {skip['reason']}", file=sys.stderr)
    if summary.written + summary.already == 0 and summary.skipped and not cfg.allow_empty:
        return 1
    return 0
