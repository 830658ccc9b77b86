"""``crabplus serve``: the web demo (Gradio) over a trained checkpoint, on localhost by default."""

from __future__ import annotations

import argparse

#: Settings that also have a flag of their own (generated from the field).
SHORTCUTS = ("checkpoint", "host", "port", "max_new_tokens")


def register(sub) -> None:
    from crabplus.config.cli import add_config_arguments
    from crabplus.web.config import ServeConfig

    parser = sub.add_parser(
        "serve",
        help="a web page to try a checkpoint on your videos (Gradio; shows the routing)",
        description="Serve a web page over a trained checkpoint: upload a video, pick a task or type a question, "
        "and see the answer, the structured prediction, the mask on the frame, the events on a timeline and "
        "the answer's tokens coloured by their I-LoRA head weights per layer. Needs the web extra "
        "(scripts/setup.sh web). Listens on 127.0.0.1 unless --host says otherwise; one request runs at a time.",
    )
    add_config_arguments(parser, ServeConfig, shortcuts=SHORTCUTS, example="port=8080")
    parser.set_defaults(func=run)


#: Set before Gradio is imported: it checks its version on api.gradio.app and sends analytics at start-up
#: (and the Hub client its telemetry) unless told not to; nothing of a local demo may leave the machine.
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def run(args: argparse.Namespace) -> int:
    import os

    from crabplus.cli.main import UsageError
    from crabplus.config.cli import config_from_args
    from crabplus.web.config import ServeConfig

    os.environ.update(OFFLINE_ENV)
    cfg = config_from_args(ServeConfig, args)
    if cfg.checkpoint is None:
        raise UsageError("needs --checkpoint DIR (or checkpoint: in --config)")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UsageError(
            "the web demo needs Gradio: run `bash scripts/setup.sh web` (pinned, see requirements/web.txt)"
        ) from None
    from crabplus.infer import Predictor
    from crabplus.web.app import build_demo

    predictor = Predictor.from_checkpoint(cfg.checkpoint)
    demo = build_demo(predictor, max_new_tokens=cfg.max_new_tokens)
    print(f"serving {cfg.checkpoint} on http://{cfg.host}:{cfg.port}")
    demo.launch(server_name=cfg.host, server_port=cfg.port, share=False, show_error=True)
    return 0
