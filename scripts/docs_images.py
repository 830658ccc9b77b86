"""Regenerate every picture under docs/images (never hand-edit one).

    .venv/bin/python scripts/docs_images.py                    # eval_* (fixtures) and avsynth_* (gallery)
    .venv/bin/python scripts/docs_images.py --demo runs/demo   # also results_* from a finished demo run

Each picture has one producer, listed in ``PRODUCERS``; tests/test_docs_images.py checks that every PNG
in docs/images is listed there and referenced by a page, and (slow tier) that the eval pictures made
anew equal the committed ones pixel for pixel.

- ``eval_*``: ``crabplus eval`` and ``crabplus transfer`` on the hand-written fixtures in
  tests/fixtures/eval (what docs/evaluation.md shows);
- ``avsynth_*``: ``python -m crabplus.synth.gallery`` (docs/avsynth.md);
- ``web-demo.png``: the web demo's browser test saves it when ``CRABPLUS_SCREENSHOT`` names it;
- ``results_*``: copied from a demo run folder (``crabplus demo`` / ``crabplus demo --full``), which is what
  docs/results.md reports; only with ``--demo``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "eval"

# picture in docs/images -> (producer, file inside the producer's output)
PRODUCERS: dict[str, tuple[str, str]] = {
    "eval_scores.png": ("eval", "multi/scores.png"),
    "eval_routing.png": ("eval", "multi/routing.png"),
    "eval_transfer.png": ("eval", "transfer/transfer.png"),
    "results_demo_scores.png": ("demo", "eval/scores.png"),
    "results_demo_routing.png": ("demo", "eval/routing.png"),
    "results_transfer.png": ("demo", "transfer/transfer.png"),
    # the browser test saves it: CRABPLUS_SCREENSHOT=docs/images/web-demo.png make test ARGS=tests/test_web_browser.py
    "web-demo.png": ("browser test", "tests/test_web_browser.py"),
}
GALLERY_PREFIX = "avsynth_"  # every avsynth_*.png comes from the gallery


def producer_of(name: str) -> str | None:
    """Which producer makes docs/images/``name`` (None: nobody does, so it would go stale)."""
    if name.startswith(GALLERY_PREFIX):
        return "gallery"
    return PRODUCERS.get(name, (None, ""))[0]


def run_eval_fixtures(work: Path) -> Path:
    """``crabplus eval`` on the three fixture prediction files, then ``crabplus transfer`` over them."""
    from crabplus.cli.main import main

    records = str(FIXTURES / "records.jsonl")
    for name, predictions in (
        ("multi", "predictions.jsonl"),
        ("single", "predictions_single.jsonl"),
        ("lora", "predictions_baseline.jsonl"),
    ):
        code = main(
            ["-q", "eval", "--predictions", str(FIXTURES / predictions), "--data", records, "--out", str(work / name)]
        )
        if code != 0:
            raise SystemExit(f"docs_images: crabplus eval on {predictions} exited {code}")
    code = main(
        [
            "-q",
            "transfer",
            "--single",
            str(work / "single"),
            "--multi",
            str(work / "multi"),
            "--baseline",
            str(work / "lora"),
            "--out",
            str(work / "transfer"),
        ]
    )
    if code != 0:
        raise SystemExit(f"docs_images: crabplus transfer exited {code}")
    return work


def copy_pictures(producer: str, source: Path, images: Path) -> list[Path]:
    """Copy the pictures ``producer`` made under ``source`` into ``images``; a missing one is an error."""
    written = []
    for name, (who, inside) in PRODUCERS.items():
        if who != producer:
            continue
        if not (source / inside).is_file():
            raise SystemExit(f"docs_images: {source / inside} is missing (needed for docs/images/{name})")
        shutil.copyfile(source / inside, images / name)
        written.append(images / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default=str(REPO / "docs" / "images"), help="where the pictures go")
    parser.add_argument("--demo", default=None, help="a finished demo run folder: also copy its results_* pictures")
    parser.add_argument("--skip-gallery", action="store_true", help="leave the avsynth_* pictures as they are")
    args = parser.parse_args(argv)
    images = Path(args.images)
    images.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        written = copy_pictures("eval", run_eval_fixtures(Path(tmp)), images)
    if args.demo:
        written += copy_pictures("demo", Path(args.demo), images)
    if not args.skip_gallery:
        from crabplus.synth.gallery import main as gallery

        gallery(["--images", str(images)])
    for path in written:
        print(f"[docs_images] {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
