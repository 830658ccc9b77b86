"""The transfer study on AVSynth (``crabplus demo --full``): does I-LoRA turn negative transfer into
positive transfer, as the paper reports on real data?

From the demo's base model: one single-task adapter per dataset, a plain-LoRA multi-task adapter and an
I-LoRA multi-task adapter, each evaluated on the test split; ``crabplus.evaluate.transfer`` then
compares each multi-task run with the single-task runs.

Budget: the paper trains every run for the same number of epochs, so a multi-task run sees each
dataset as often as that dataset's single-task run does. Here every run gets ``study_steps_per_dataset``
optimizer steps per dataset it trains on (a multi-task run on 19 datasets: 19 times as many steps),
drawn evenly across datasets (``sampling_balance: dataset``, whatever the demo's adapter uses: balancing
by task type would give the five emotion datasets fewer epochs in the multi-task runs than alone);
the other adapter settings (learning rate, batch, schedule) are the demo's ``adapter`` section.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crabplus.experiments.config import DemoConfig
from crabplus.utils.dist import print0
from crabplus.utils.io import atomic_write_json


def run_study(cfg: DemoConfig, out: Path, data_dir: Path, base: Path) -> dict:
    from crabplus.evaluate.transfer import transfer_table, write_transfer
    from crabplus.experiments.demo import evaluate_once, print_table, record_files, run_config, train_stage

    datasets = [Path(f).parent.name for f in record_files(data_dir, "test")]
    steps = cfg.study_steps_per_dataset

    def budget(n_datasets: int, **changes):
        total = steps * n_datasets
        return replace(cfg.adapter, max_steps=total, save_steps=min(cfg.adapter.save_steps, total),
                       sampling_balance="dataset", **changes)

    reports: dict[str, dict] = {}
    for adapter in ("ilora", "lora"):
        model = replace(cfg.model, adapter=adapter, checkpoint=str(base))
        final = train_stage(run_config(cfg, out, f"study-{adapter}", data_dir, train=budget(len(datasets)),
                                       model=model))
        reports[adapter] = evaluate_once(cfg, final, data_dir, out / "eval-study" / adapter)
        print_table(reports[adapter], f"transfer study: multi-task {adapter} — test split")
    singles = {}
    for name in datasets:
        model = replace(cfg.model, adapter="ilora", checkpoint=str(base))
        train_cfg = budget(1, stage="single", single_dataset=name)
        final = train_stage(run_config(cfg, out, f"study-single-{name}", data_dir, train=train_cfg, model=model,
                                       datasets=[name]))
        singles[name] = evaluate_once(cfg, final, data_dir, out / "eval-study" / f"single-{name}", [name])
    table = transfer_table(list(singles.values()), reports["ilora"], baseline_report=reports["lora"],
                           single_names=[f"single-{n}" for n in singles], multi_name="multi-task I-LoRA",
                           baseline_name="multi-task LoRA")
    files = write_transfer(table, out / "transfer")
    print0((out / "transfer" / "transfer.md").read_text())
    summary = {"report": str(out / "transfer" / "transfer.md"), "files": files,
               "positive_share": table["positive_share"],
               "baseline_positive_share": table.get("baseline_positive_share")}
    atomic_write_json(out / "study.json", summary)
    return summary
