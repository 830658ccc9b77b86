"""``crabplus predict``: answer a task on your own video (the answer text, the structured prediction,
and the mask PNG for segmentation tasks)."""

from __future__ import annotations

import argparse
import dataclasses
import json


def register(sub) -> None:
    parser = sub.add_parser(
        "predict", help="answer a task on your own video",
        description="Answer one task (a dataset name: ks, ave, s4, avqa, ...) on a video with a trained "
        "checkpoint. Prints the answer text and the structured prediction; segmentation tasks also write "
        "the mask PNG (224 x 224).",
    )
    parser.add_argument("video", help="the video (or, for image tasks, a still image with --audio)")
    parser.add_argument("--task", required=True, help="dataset whose task and format to use, e.g. ks, ave, s4")
    parser.add_argument("--checkpoint", required=True, help="a trained model folder (OUTPUT_DIR/final)")
    parser.add_argument("--audio", default=None, help="audio file (default: the video's own sound track)")
    parser.add_argument("--video2", default=None, help="the second candidate video (a2v)")
    parser.add_argument("--audio2", default=None, help="the second candidate audio (v2a, with --audio)")
    parser.add_argument("--question", default=None, help="the question (avqa, avqa_thu)")
    parser.add_argument("--options", nargs="+", default=None, help="the answer options (avqa_thu)")
    parser.add_argument("--expression", default=None, help="the object to find (ref_avs)")
    parser.add_argument("--frame-second", type=float, default=None,
                        help="image tasks on a video: the second of the frame to use (default: the middle)")
    parser.add_argument("--out", default=None, help="folder for the mask PNG and the result JSON "
                        "(default: masks go to the current folder, no JSON file)")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--segmenter", choices=("grabcut", "sam2"), default="grabcut")
    parser.add_argument("--sam2-checkpoint", default=None, help="local SAM 2.1 folder (with --segmenter sam2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError
    from crabplus.infer import PredictInputError, predict

    try:
        result = predict(
            args.video, task=args.task, checkpoint=args.checkpoint, audio=args.audio, video2=args.video2,
            audio2=args.audio2, question=args.question, options=args.options, expression=args.expression,
            frame_second=args.frame_second, out=args.out, max_new_tokens=args.max_new_tokens,
            segmenter=args.segmenter, sam2_checkpoint=args.sam2_checkpoint,
        )
    except PredictInputError as exc:
        raise UsageError(str(exc)) from None
    print(f"answer: {result.text}")
    pred = {k: v for k, v in dataclasses.asdict(result.prediction).items() if v is not None and v != []}
    print("prediction: " + json.dumps(pred, ensure_ascii=False))
    if result.mask_path is not None:
        print(f"mask: {result.mask_path}")
    return 0
