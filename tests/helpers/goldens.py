"""The golden values: what ``scripts/make_goldens.py`` stores in ``tests/goldens/`` and ``tests/test_goldens.py``
recomputes. One function per golden, shared by both, so the stored file and the check can never drift apart.

- ``loss_curve``: a tiny I-LoRA run (the tiny preset, rank 4, batch 2) on a 4-clip AVSynth set of s4 and cremad,
  seed 0, on the CPU: the loss and gradient norm of every step. Any change to the data pipeline, the model, the
  adapter, the loss or the optimizer moves these numbers.
- ``report_numbers``: ``evaluate_predictions`` on the hand-written evaluation fixtures (``tests/fixtures/eval``,
  all 19 datasets): every number of every dataset's row, flattened to ``"dataset/key/..." -> value``.

The goldens hold for the pinned dependencies (torch, PyAV's FFmpeg): a version change may move the losses, and
then the goldens are regenerated with the script (never edited by hand) and the change says why.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

GOLDENS = Path(__file__).resolve().parents[1] / "goldens"
EVAL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"

#: the AVSynth set the loss curve trains on (the same as the tests' session fixture ``small_avsynth``)
SYNTH = {"per_dataset": 4, "image_size": 56, "datasets": ["s4", "cremad"]}
STEPS = 4

# The losses are float32 sums and products reduced in float64: bitwise equal run to run on one machine with one
# thread count (checked by running the script twice), but the thread count and another CPU's kernels (AVX2 vs
# AVX-512 in oneDNN/MKL) change float32 rounding: 1 thread vs 2 moves a gradient norm here by 1.1e-7 relative.
# A real change (a token, an initial weight, the learning rate 2e-3 -> 2.001e-3) moves them by far more than 1e-5.
REL = 1e-5


def curve_differences(got: dict, golden: dict) -> list[str]:
    """The entries of a loss curve farther than ``REL`` from the golden one (empty: they agree)."""
    flat = {}
    for name, other in (("got", got), ("golden", golden)):
        out: dict = {}
        _numbers(other, "", out)
        flat[name] = out
    if flat["got"].keys() != flat["golden"].keys():
        return [f"different entries: {sorted(flat['got'].keys() ^ flat['golden'].keys())}"]
    return [
        f"{key}: golden {want!r}, now {flat['got'][key]!r}"
        for key, want in flat["golden"].items()
        if abs(flat["got"][key] - want) > REL * abs(want)
    ]


def make_synth(root: Path) -> Path:
    """Generate the loss curve's AVSynth set into ``root``."""
    from crabplus.synth import SynthConfig, generate

    generate(root, SynthConfig(**SYNTH))
    return root


def loss_curve(synth: Path) -> dict:
    """Train the tiny I-LoRA run for ``STEPS`` steps on ``synth`` (uncached media, no checkpoint before the end);
    returns ``{"loss": [...], "grad_norm": [...], "loss_per_task": [{dataset: loss}, ...]}``, one entry a step."""
    from crabplus.train import read_metrics, train
    from helpers.train import tiny_run_config

    # The thread count is left alone: setting it to 1 and back changed the last bits of this process's later
    # training (test_resume, which compares a subprocess's losses with this process's bit for bit, then differed
    # by 5e-8 at one step; test_demo keeps threads=null for the same reason). REL covers the thread count instead.
    with tempfile.TemporaryDirectory(prefix="golden-run-") as out:
        cfg = tiny_run_config(
            synth,
            out,
            f"train.max_steps={STEPS}",
            f"train.save_steps={STEPS}",
            "train.warmup_ratio=0.0",
            "model.ilora.dropout=0.1",
            cache=False,
        )
        train(cfg)
        rows = read_metrics(Path(out) / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    return {
        "loss": [r["loss"] for r in rows],
        "grad_norm": [r["grad_norm"] for r in rows],
        "loss_per_task": [r["loss_per_task"] for r in rows],
    }


def _numbers(value, prefix: str, out: dict) -> None:
    """Flatten the numeric leaves of ``value`` (bools and strings are not numbers of the report)."""
    if isinstance(value, dict):
        for key in sorted(value):
            _numbers(value[key], f"{prefix}/{key}", out)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _numbers(item, f"{prefix}/{i}", out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[prefix] = value


def report_numbers() -> dict:
    """Every number of the evaluation report of ``predictions.jsonl`` on the fixtures (meteor off: it needs
    Java), with the summary and the routing summary: ``{"summary/records": 52, "ks/primary": 0.333..., ...}``."""
    from crabplus.evaluate import EvalConfig, evaluate_predictions, load_predictions
    from crabplus.schema.records import load_records

    records = load_records(EVAL_FIXTURES / "records.jsonl")
    preds = load_predictions(EVAL_FIXTURES / "predictions.jsonl")
    report = evaluate_predictions(records, preds, EVAL_FIXTURES, config=EvalConfig(meteor=False))

    def as_written(value):  # what report.json holds (tuples become lists)
        return json.loads(json.dumps(value))

    out: dict = {}
    _numbers(as_written(report.summary.to_json()), "summary", out)
    _numbers(as_written(report.routing.to_json()), "routing", out)
    for name, row in report.datasets.items():
        _numbers(as_written(row.to_json()), name, out)
    return out


def read_golden(name: str) -> dict:
    return json.loads((GOLDENS / f"{name}.json").read_text(encoding="utf-8"))
