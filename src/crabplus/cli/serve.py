"""``crabplus serve``: the web demo (Gradio) over a trained checkpoint, on localhost by default."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    parser = sub.add_parser(
        "serve", help="a web page to try a checkpoint on your videos (Gradio; shows the routing)",
        description="Serve a web page over a trained checkpoint: upload a video, pick a task or type a question, "
        "and see the answer, the structured prediction, the mask on the frame, the events on a timeline and "
        "the answer's tokens coloured by their I-LoRA head weights per layer. Needs the web extra "
        "(scripts/setup.sh web). Listens on 127.0.0.1 unless --host says otherwise; one request runs at a time.",
    )
    parser.add_argument("--checkpoint", required=True, help="a trained model folder (OUTPUT_DIR/final)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crabplus.cli.main import UsageError

    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UsageError("the web demo needs Gradio: run `bash scripts/setup.sh web` (pinned, see "
                         "requirements/web.txt)") from None
    from crabplus.infer import Predictor
    from crabplus.web.app import build_demo

    predictor = Predictor.from_checkpoint(args.checkpoint)
    demo = build_demo(predictor, max_new_tokens=args.max_new_tokens)
    print(f"serving {args.checkpoint} on http://{args.host}:{args.port}")
    demo.launch(server_name=args.host, server_port=args.port, share=False, show_error=True)
    return 0
