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
    parser.add_argument("--checkpoint", required=True, metavar="DIR",
                        help="a trained model folder (OUTPUT_DIR/final)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine "
                        "only)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: %(default)s)")
    parser.add_argument("--max-new-tokens", type=int, default=128, metavar="N",
                        help="longest answer, in tokens (default: %(default)s)")
    parser.set_defaults(func=run)


#: Set before Gradio is imported: it checks its version on api.gradio.app and sends analytics at start-up
#: (and the Hub client its telemetry) unless told not to; nothing of a local demo may leave the machine.
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def run(args: argparse.Namespace) -> int:
    import os

    from crabplus.cli.main import UsageError

    os.environ.update(OFFLINE_ENV)
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
