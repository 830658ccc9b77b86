"""The demo / transfer-study configuration: one synthetic data set, one tiny model, several stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crabplus.adapters.config import ILoRAConfig, LoRAConfig
from crabplus.config.core import ConfigError, resolve_config
from crabplus.data.config import DataConfig
from crabplus.evaluate.config import EvalConfig
from crabplus.model.config import ModelConfig
from crabplus.synth.config import SynthConfig
from crabplus.train.config import TrainConfig
from crabplus.train.encoders import EncoderStageConfig

#: the multi-task methods the transfer study can run (crabplus.experiments.study)
METHODS = ("ilora", "lora", "lora_same_rank")


def _base_train() -> TrainConfig:
    from crabplus.experiments.base import base_train as shipped

    return shipped()


def _refine_train() -> TrainConfig:
    from crabplus.experiments.base import refine_train as shipped

    return shipped()


def _tiny_model() -> ModelConfig:
    return ModelConfig(
        preset="tiny",
        adapter="ilora",
        ilora=ILoRAConfig(rank=8, alpha=16.0, num_experts=3, dropout=0.0, encoders=True),
        lora=LoRAConfig(dropout=0.0),  # rank and alpha: the study's (crabplus.experiments.study)
    )


@dataclass
class DemoConfig:
    """What ``crabplus demo`` runs.

    ``synth``: the AVSynth set generated into ``output_dir/data``. The base model is the shipped
    perception-pretrained one (``crabplus/assets/base``, made by ``crabplus.experiments.base`` from the
    perception corpus only) unless ``base_model`` names another model folder; ``retrain_base`` makes it again
    in ``output_dir/base`` from a corpus of
    ``corpus_scale`` times the default clips, with the ``encoders`` (stage 0: the towers), ``base`` (stage 1:
    alignment) and ``refine`` (stage 2, on ``corpus_scale`` times its new clips; null stops after stage 1)
    training settings (the shipped ones by default).
    ``adapter``: the adapter stage (I-LoRA multi-task, 1,000 steps at lr 5e-3: the base knows no instruction
    and no answer format, so the adapter learns every task's format and wording; at 300 steps and lr 2e-3 it
    had learned none; in a 1,500-step run its loss stopped falling from step ~900, docs/results.md). With
    ``full`` the study's runs take the same settings.
    ``model``: the tiny preset and adapter shapes. The study sets plain LoRA's rank itself (matched to I-LoRA's
    trainable-parameter count, or I-LoRA's rank) and runs every method and rank at I-LoRA's scale
    ``ilora.alpha / ilora.rank``, so ``model.lora.rank`` and ``model.lora.alpha`` are refused.
    ``eval``: decoding and segmentation settings. ``max_eval_per_dataset`` caps test records
    (default: all, 25 per dataset).
    ``threads``: torch CPU threads of every stage (1: on a busy 2-core machine two threads made an adapter step
    about 9x slower, 6 s instead of 0.66 s, as the two wait on each other; the tiny model's products are too
    small to gain from a second thread; None leaves torch's own setting). Decoded media and features are
    cached in ``data.cache_dir`` (default: ``output_dir/cache``), so every epoch after the first skips decoding.
    ``full``: run the transfer study (many runs; see docs/results.md for the time it takes); each of its
    runs trains ``study_steps_per_dataset`` steps per dataset it sees (the same epochs for every run), once per
    seed of ``study_seeds``, for the multi-task ``study_methods`` and one single-task run per dataset.
    ``study_ranks`` set: the rank sweep on a validation split (``study_val_per_dataset`` training clips per
    dataset held out) instead of the final comparison on test (``crabplus.experiments.study``); ``study_workers``
    runs of the study train at once, each in its own process.
    """

    output_dir: str = field(
        default="runs/demo",
        metadata={
            "help": "output folder (--full in the same folder reuses the plain demo's data and base stage)",
            "aliases": ("--out",),
            "metavar": "DIR",
        },
    )
    seed: int = 0
    full: bool = field(default=False, metadata={"help": "run the transfer study (takes much longer)"})
    synth: SynthConfig = field(default_factory=lambda: SynthConfig(per_dataset=100, workers=0))
    data: DataConfig = field(default_factory=lambda: DataConfig(image_size=56))
    model: ModelConfig = field(default_factory=_tiny_model)
    retrain_base: bool = False
    base_model: str | None = field(
        default=None,
        metadata={
            "help": "a base model folder to start the adapters from instead of the shipped one (e.g. a base made by "
            "python -m crabplus.experiments.base)",
            "metavar": "DIR",
        },
    )
    corpus_scale: float = 1.0
    base: TrainConfig = field(default_factory=_base_train)
    encoders: EncoderStageConfig = field(default_factory=EncoderStageConfig)
    refine: TrainConfig | None = field(default_factory=_refine_train)
    adapter: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            stage="multitask", max_steps=1000, learning_rate=5e-3, save_steps=500, sampling_balance="task"
        )
    )
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(max_new_tokens=96, batch_size=8, mask_chance_draws=20))
    max_eval_per_dataset: int | None = None
    threads: int | None = 1
    study_steps_per_dataset: int = 60
    study_seeds: list[int] = field(
        default_factory=lambda: [0, 1, 2],
        metadata={
            "help": "with --full: the seeds, comma-separated",
            "aliases": ("--seeds",),
            "split": ",",
            "metavar": "N",
        },
    )
    study_ranks: list[int] | None = field(
        default=None,
        metadata={
            "help": "with --full: I-LoRA ranks to sweep on a validation split (e.g. 2,4,8,16) instead of the final "
            "comparison on test",
            "aliases": ("--ranks",),
            "split": ",",
            "metavar": "R",
        },
    )
    study_methods: list[str] = field(default_factory=lambda: ["ilora", "lora"])
    study_val_per_dataset: int = 15
    study_workers: int = field(
        default=2,
        metadata={
            "help": "with --full: runs trained at once, each in its own process with `threads` threads (the study's "
            "63 runs are independent; 2 fills a 2-core machine)",
            "metavar": "N",
        },
    )

    def __post_init__(self) -> None:
        if self.base.stage != "base":
            raise ConfigError(f"base.stage must be 'base', got {self.base.stage!r}")
        if self.adapter.stage == "base":
            raise ConfigError("adapter.stage must be 'multitask' (single-task runs are made by the study)")
        if not self.study_seeds or (self.study_ranks is not None and not self.study_ranks):
            raise ConfigError("study_seeds and study_ranks (when set) must name at least one value")
        if self.study_ranks is not None and min(self.study_ranks) < 1:
            raise ConfigError(f"study_ranks must be >= 1, got {self.study_ranks}")
        unknown = [m for m in self.study_methods if m not in METHODS]
        if unknown or not self.study_methods:
            raise ConfigError(f"study_methods: unknown {unknown} (known: {', '.join(METHODS)})")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        if self.study_workers < 1:
            raise ConfigError(f"study_workers must be >= 1, got {self.study_workers}")
        if self.study_steps_per_dataset < 1:
            raise ConfigError(f"study_steps_per_dataset must be >= 1, got {self.study_steps_per_dataset}")
        # keys the demo sets itself: a value given here would be accepted and ignored, so it is refused
        for key, (unset, why) in SET_BY_THE_DEMO.items():
            section, _, name = key.rpartition(".")
            owner = self
            for part in section.split("."):
                owner = getattr(owner, part)
            if getattr(owner, name) != unset:
                raise ConfigError(f"{key} is set by the demo itself ({why}); leave it out")
        if self.base_model is not None and self.retrain_base:
            raise ConfigError("base_model and retrain_base exclude each other: give a base folder or make one")
        if self.base_model is not None and not (Path(self.base_model) / "model.safetensors").is_file():
            raise ConfigError(
                f"base_model {self.base_model}: no model.safetensors there (give a model folder, e.g. runs/base/chosen)"
            )
        if self.model.family == "modular" and not self.retrain_base and self.base_model is None:
            raise ConfigError(
                "model.family modular: the shipped base is the unified thinker; give a modular base "
                "(base_model=DIR, made by `python -m crabplus.experiments.base --out DIR0 model.family=modular`: "
                "DIR0/chosen) or make one here with retrain_base=true"
            )
        if self.base_model is not None:
            _check_base_family(Path(self.base_model), self.model.family)
        if self.data.image_size != self.synth.image_size:
            raise ConfigError(
                f"data.image_size ({self.data.image_size}) must equal synth.image_size "
                f"({self.synth.image_size}): the model sees frames at the rendered size"
            )


#: The keys ``crabplus demo`` sets itself -> (their value when not given, what sets them). Given, such a key would
#: be accepted and then ignored, so it is refused (tests/test_config_front_door.py tries each).
SET_BY_THE_DEMO: dict[str, tuple[object, str]] = {
    "data.train": ([], "its AVSynth folder in output_dir/data"),
    "data.root": (None, "its AVSynth folder in output_dir/data"),
    "model.checkpoint": (None, "the base it starts from"),
    "model.adapter": ("ilora", "I-LoRA, and with --full every method of study_methods"),
    "model.lora.rank": (
        LoRAConfig().rank,
        "the study matches plain LoRA's rank to I-LoRA's parameter count, or to its rank",
    ),
    "model.lora.alpha": (LoRAConfig().alpha, "the study runs every method at I-LoRA's scale ilora.alpha / ilora.rank"),
}


def load_demo_config(path: str | Path | None = None, overrides: list[str] | None = None) -> DemoConfig:
    """A demo YAML (or the built-in settings) with dotted overrides, through the one front door."""
    return resolve_config(DemoConfig, path, overrides)


def _check_base_family(base: Path, family: str) -> None:
    """A base folder of the other family fails here, naming the switch, not deep in the loader."""
    import json

    from crabplus.schema.layouts import MODULAR_MODEL_TYPE

    try:
        model_type = json.loads((base / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        return  # the loader names what is wrong with the folder
    is_modular = model_type == MODULAR_MODEL_TYPE
    if is_modular != (family == "modular"):
        want = "modular" if is_modular else "unified"
        raise ConfigError(f"base_model {base}: a {want} model's folder; add model.family={want}")
