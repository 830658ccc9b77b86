"""The tiny training run the training tests share: the session's small AVSynth set (s4 and cremad), the
tiny preset, batch 2, three steps with a checkpoint at step 2. Each test file adds its own differences as
overrides (dropout for resume, no feature cache for the multi-process runs, ...). The golden loss curve
(helpers/goldens.py) trains this run too: a change here means regenerating tests/goldens/."""

from __future__ import annotations

from crabplus.train.run_config import RunConfig, load_config


def tiny_run_config(synth, out, *overrides: str, cache: bool = True) -> RunConfig:
    """The shared run on ``synth`` writing to ``out``; ``cache``: decoded media cached in ``synth/.cache``."""
    return load_config(
        None,
        [
            f"data.train=[{synth}/s4/train.jsonl,{synth}/cremad/train.jsonl]",
            f"data.root={synth}",
            "data.image_size=56",
            *([f"data.cache_dir={synth}/.cache"] if cache else []),
            f"output_dir={out}",
            "model.ilora.rank=4",
            "model.ilora.alpha=8",
            "train.batch_size=2",
            "train.max_steps=3",
            "train.save_steps=2",
            "train.log_steps=1",
            "train.learning_rate=2e-3",
            *overrides,
        ],
    )
