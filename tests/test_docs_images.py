"""Every picture in docs/images has a producer (scripts/docs_images.py) and a page that shows it, and none is a
copy of another; the pictures made from the eval fixtures and by the AVSynth gallery are up to date (slow tier:
they are made anew and compared)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"


def _script():
    spec = importlib.util.spec_from_file_location("docs_images", REPO / "scripts" / "docs_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shown() -> set[str]:
    pages = [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    return {m for page in pages for m in re.findall(r"images/([\w.-]+\.png)", page.read_text())}


@pytest.mark.parametrize("name", sorted(p.name for p in IMAGES.glob("*.png")))
def test_every_picture_has_a_producer_and_a_page(name):
    assert _script().producer_of(name) is not None, f"docs/images/{name}: no producer in scripts/docs_images.py"
    assert name in _shown(), f"docs/images/{name} is shown by no page"


def test_no_two_pictures_are_the_same_file():
    """Each picture shows something of its own: a copy of another (docs/images/eval_routing.png once held the
    demo's routing picture, results_demo_routing.png, byte for byte) is a picture from the wrong producer."""
    by_bytes: dict[bytes, list[str]] = {}
    for path in sorted(IMAGES.glob("*.png")):
        by_bytes.setdefault(path.read_bytes(), []).append(path.name)
    copies = [names for names in by_bytes.values() if len(names) > 1]
    assert not copies, f"docs/images holds identical pictures under several names: {copies}"


def test_every_picture_a_page_shows_exists():
    missing = sorted(name for name in _shown() if not (IMAGES / name).is_file())
    assert not missing, f"pages show pictures that are not in docs/images: {missing}"


def _assert_same_picture(made: Path, name: str) -> None:
    new = np.asarray(Image.open(made).convert("RGB"), dtype=np.int16)
    old = np.asarray(Image.open(IMAGES / name).convert("RGB"), dtype=np.int16)
    assert new.shape == old.shape, f"{name}: {old.shape} committed, {new.shape} made now (scripts/docs_images.py)"
    assert np.abs(new - old).max() <= 8, f"{name} is stale: run scripts/docs_images.py"


@pytest.mark.slow
def test_the_eval_pictures_are_up_to_date(tmp_path):
    script = _script()
    script.copy_pictures("eval", script.run_eval_fixtures(tmp_path / "work"), tmp_path)
    for name, (producer, _) in script.PRODUCERS.items():
        if producer == "eval":
            _assert_same_picture(tmp_path / name, name)


@pytest.mark.slow
def test_the_gallery_pictures_are_up_to_date(tmp_path):
    """The avsynth_* pictures made anew by the gallery (a small AVSynth set, seed 0) equal the committed ones,
    and the gallery makes exactly the avsynth_* pictures docs/images holds."""
    from crabplus.synth.gallery import main as gallery

    assert gallery(["--images", str(tmp_path), "--markdown", str(tmp_path / "examples.md")]) == 0
    made = sorted(p.name for p in tmp_path.glob("*.png"))
    committed = sorted(p.name for p in IMAGES.glob(_script().GALLERY_PREFIX + "*.png"))
    assert made == committed
    for name in made:
        _assert_same_picture(tmp_path / name, name)
