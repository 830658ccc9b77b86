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


def register(sub) -> None:
    parser = sub.add_parser(
        "predict", help="answer a task on your own video, or on a record file / folder / glob of inputs",
        description="One video: answer one task (a dataset name: ks, ave, s4, avqa, ...) and print the answer "
        "and the structured prediction; segmentation tasks also write the mask PNG (at the video's own size). "
        "Many inputs "
        "(a record file *.jsonl, a folder, a glob, or several files): write prediction JSON Lines (--output) "
        "that `crabplus eval` reads; a re-run skips the rows already written, and an unreadable input is "
        "skipped, counted and listed in OUTPUT.skipped.jsonl.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="a video (or, for image tasks, a still image with --audio); or record files, folders, "
                        "globs (quote them) for many")
    parser.add_argument("--task", default=None, help="dataset whose task and format to use, e.g. ks, ave, s4 "
                        "(not needed for record files; default with --question alone: avqa)")
    parser.add_argument("--checkpoint", required=True, help="a trained model folder (OUTPUT_DIR/final)")
    parser.add_argument("--base", default=None, metavar="DIR",
                        help="the base model folder of an adapter-only checkpoint, when it has moved")
    parser.add_argument("--device", default=None, help="where to run the model: cpu, cuda, cuda:1 (default: "
                        "a GPU for the real presets when there is one, else the CPU)")
    parser.add_argument("--audio", default=None, help="audio file (default: the video's own sound track); for a2v "
                        "the sound to match")
    parser.add_argument("--video2", default=None, help="the second candidate video (a2v; VIDEO is the first)")
    parser.add_argument("--audio2", default=None, help="the second candidate audio (v2a, with --audio)")
    parser.add_argument("--question", default=None,
                        help="the question (avqa, avqa_thu); for another task, or without --task, a free-form "
                        "question that replaces the task's instruction")
    parser.add_argument("--options", nargs="+", default=None, help="the answer options (avqa_thu)")
    parser.add_argument("--expression", default=None, help="the object to find (ref_avs)")
    parser.add_argument("--frame-second", type=float, default=None,
                        help="image tasks on a video: the second of the frame to use (default: the middle)")
    parser.add_argument("--root", default=None, help="data root of record files' media (default: per file, the "
                        "nearest folder holding manifest.json, else the file's folder)")
    parser.add_argument("--output", default=None, metavar="FILE",
                        help="many inputs: the prediction JSON Lines file (default: OUT/predictions.jsonl)")
    parser.add_argument("--out", default=None, help="folder for the mask PNG and the result JSON of one video, "
                        "or for predictions.jsonl (default: the current folder; one video writes no JSON file)")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--segmenter", choices=("grabcut", "sam2"), default="grabcut")
    parser.add_argument("--sam2-checkpoint", default=None, help="local SAM 2.1 folder (with --segmenter sam2)")
    parser.add_argument("--json", action="store_true", help="print the result (or the run's summary) as JSON")
    parser.add_argument("--allow-empty", action="store_true", help="many inputs: an input list that yields "
                        "nothing to answer is not an error")
    parser.set_defaults(func=run)


def _single(args: argparse.Namespace) -> bool:
    """The one-video form: exactly one input, a media file, and no --output."""
    from crabplus.infer.many import is_record_file

    if len(args.inputs) != 1 or args.output is not None:
        return False
    path = Path(args.inputs[0])
    return not path.is_dir() and not is_record_file(path) and not any(ch in args.inputs[0] for ch in "*?[")


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError

    if args.max_new_tokens < 1:
        raise UsageError(f"--max-new-tokens {args.max_new_tokens}: need at least 1")
    if args.task is None and args.question is not None:
        from crabplus.schema.registry import FREE_QUESTION_DATASET

        args.task = FREE_QUESTION_DATASET
    if args.device is not None:
        _check_device(args.device)
    return run_one(args) if _single(args) else run_many(args)


def _check_device(device: str) -> None:
    import torch

    from crabplus.cli.main import UsageError

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"--device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA device is available here; use --device cpu")


def run_one(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.infer import predict

    if args.task is None:
        raise UsageError("one video needs --task (which task to ask), or --question for a free-form question")
    result = predict(
        args.inputs[0], task=args.task, checkpoint=args.checkpoint, audio=args.audio, video2=args.video2,
        audio2=args.audio2, question=args.question, options=args.options, expression=args.expression,
        frame_second=args.frame_second, out=args.out, max_new_tokens=args.max_new_tokens,
        segmenter=args.segmenter, sam2_checkpoint=args.sam2_checkpoint, device=args.device, base=args.base,
    )
    if args.json:
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


def run_many(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.infer.many import expand_inputs, iter_items, predict_many
    from crabplus.infer.predictor import Predictor
    from crabplus.infer.single import free_form
    from crabplus.schema.registry import get_spec

    files = expand_inputs(args.inputs)
    output = Path(args.output) if args.output else Path(args.out or ".") / "predictions.jsonl"
    if output.is_dir():
        raise UsageError(f"--output {output}: a folder; give the prediction file's name")
    record_args = dict(audio=args.audio, video2=args.video2, audio2=args.audio2, question=args.question,
                       options=args.options, expression=args.expression, frame_second=args.frame_second)
    items = list(iter_items(files, task=args.task, root=args.root, record_args=record_args))
    if not items and not args.allow_empty:
        raise UsageError(f"no inputs to answer in {', '.join(args.inputs)} (no media or record files); "
                         "--allow-empty accepts that")
    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, base=args.base) if items else None
    is_free = args.task is not None and free_form(get_spec(args.task), args.question)
    summary = predict_many(iter(items), predictor, output, max_new_tokens=args.max_new_tokens, free_form=is_free)
    if args.json:
        print(json.dumps(summary.to_json()))
    else:
        print(f"wrote {summary.written} prediction(s) to {output}"
              + (f" ({summary.already} already there)" if summary.already else "")
              + (f"; skipped {len(summary.skipped)} input(s), reasons in {summary.skip_report}"
                 if summary.skipped else ""))
    for skip in summary.skipped[:5]:
        print(f"skipped: {skip['reason']}", file=sys.stderr)
    if summary.written + summary.already == 0 and summary.skipped and not args.allow_empty:
        return 1
    return 0
