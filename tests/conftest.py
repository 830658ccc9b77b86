"""Shared test settings: nothing downloads, progress bars stay quiet, unmarked tests are the unit tier, and `gpu`
tests skip without CUDA."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CRABPLUS_QUIET", "1")
# MKL's strict mode, as `crabplus predict` asks for it, before any product (crabplus.model.invariant): the
# prediction tests compare rows across batch sizes and processes, and an in-process run could not ask for it later
os.environ.setdefault("MKL_CBWR", "AVX2,STRICT")


#: the markers that take a test out of the unit tier (pyproject.toml lists the tiers)
NOT_UNIT = ("integration", "slow", "gpu")


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection reads the markers
def pytest_collection_modifyitems(config, items):
    """Every test not marked integration, slow or gpu is a unit test (``-m unit``: ``make test-unit``); test files
    mark the others themselves, by what they do. ``gpu`` tests skip without CUDA."""
    for item in items:
        if not any(item.get_closest_marker(name) for name in NOT_UNIT):
            item.add_marker(pytest.mark.unit)
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch is a hard dependency
        has_gpu = False
    if has_gpu:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def small_avsynth(tmp_path_factory):
    """A 4-clip-per-dataset AVSynth set of s4 and cremad (an image task and a video task), generated once
    per session and shared read-only by the training, resume, distributed and prediction tests."""
    from crabplus.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("avsynth-small")
    generate(root, SynthConfig(per_dataset=4, image_size=56, datasets=["s4", "cremad"]))
    return root


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """A few clips of every layout of the perception pretraining corpus (crabplus.synth.pretrain), generated
    once per session: what the base-stage tests train on."""
    from crabplus.synth import SynthConfig
    from crabplus.synth.pretrain import DEFAULT_CLIPS, generate_corpus

    root = tmp_path_factory.mktemp("perception-corpus")
    generate_corpus(root, SynthConfig(per_dataset=4, image_size=56), {k: 2 for k in DEFAULT_CLIPS})
    return root
