"""The transfer study over seeds: the interval code on known inputs, the table's counts, what a seed changes
(data order and adapter init, never the base), the routing divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers.reports import dataset_score, make_report

from crabplus.evaluate.routing_stats import js_divergence, routing_divergence
from crabplus.evaluate.seeds import bands_above_chance, seed_transfer, t_interval
from crabplus.schema.report import RoutingSummary, TaskRouting


def test_t_interval_on_known_inputs():
    mean, lo, hi = t_interval([1.0, 2.0, 3.0])  # sd 1, n 3: half-width t(0.975, 2) / sqrt(3) = 4.303 / 1.732
    assert mean == 2.0 and hi - mean == pytest.approx(4.303 / math.sqrt(3)) and mean - lo == pytest.approx(hi - mean)
    mean, lo, hi = t_interval([0.0, 1.0])  # sd 0.7071, n 2: 12.706 * 0.7071 / 1.4142 = 6.353
    assert (mean, hi) == (0.5, pytest.approx(0.5 + 6.353))
    assert t_interval([0.3]) == (0.3, None, None)
    assert t_interval([0.2, 0.2, 0.2]) == pytest.approx((0.2, 0.2, 0.2))
    values = list(np.linspace(-1, 1, 41))  # 40 degrees of freedom: the normal 1.96
    assert t_interval(values)[2] == pytest.approx(1.96 * np.std(values, ddof=1) / math.sqrt(41))
    with pytest.raises(ValueError):
        t_interval([1.0, 2.0], level=0.9)


def _report(**rows) -> dict:
    """dataset -> (value, higher_is_better[, chance, band])."""
    return make_report(
        *(
            dataset_score(name, {"m": (value, higher)}, tuple(chance) or None)
            for name, (value, higher, *chance) in rows.items()
        )
    )


def test_seed_transfer_pairs_by_seed_and_counts_significant_signs():
    singles = {
        s: [_report(a=(0.5, True, 0.1, 0.3)), _report(b=(0.4, False)), _report(c=(0.5, True))] for s in (0, 1, 2)
    }
    multis = {
        "ilora": {
            0: _report(a=(0.6, True), b=(0.30, False), c=(0.4, True)),
            1: _report(a=(0.7, True), b=(0.35, False), c=(0.6, True)),
            2: _report(a=(0.65, True), b=(0.32, False), c=(0.45, True)),
        },
        "lora": {0: _report(a=(0.4, True), b=(0.5, False), c=(0.5, True))},
    }
    table = seed_transfer(singles, multis)
    ilora, lora = table["methods"]["ilora"], table["methods"]["lora"]
    rows = {r["dataset"]: r for r in table["rows"]}
    assert rows["a"]["methods"]["ilora"]["diffs"] == pytest.approx([0.1, 0.2, 0.15])
    assert rows["b"]["methods"]["ilora"]["diffs"] == pytest.approx([0.1, 0.05, 0.08])  # lower is better: flipped
    assert rows["a"]["methods"]["ilora"]["significant"] == "+" and rows["b"]["methods"]["ilora"]["significant"] == "+"
    assert rows["c"]["methods"]["ilora"]["significant"] == "0"  # -0.1, +0.1, -0.05: the interval spans zero
    assert (ilora["positive"], ilora["negative"], ilora["significant_positive"], ilora["significant_negative"]) == (
        2,
        1,
        2,
        0,
    )
    assert ilora["positive_share"] == pytest.approx(2 / 3) and table["headline"]["ilora"] == ilora["positive_share"]
    assert ilora["mean_transfer_bands"] == pytest.approx(0.15 / 0.2)  # only a has a chance band (width 0.2)
    assert lora["seeds"] == [0] and rows["a"]["methods"]["lora"]["low"] is None  # one seed: no interval
    assert (lora["positive"], lora["negative"], lora["significant_positive"]) == (0, 2, 0)


def test_bands_above_chance():
    report = _report(a=(0.5, True, 0.1, 0.3), b=(0.2, False, 0.6, 0.4), c=(0.9, True))
    assert bands_above_chance(report) == pytest.approx(((0.5 - 0.1) / 0.2 + (0.2 - 0.6) / (0.4 - 0.6)) / 2)


def test_routing_divergence_is_zero_for_alike_tasks_and_grows_with_specialisation():
    def summary(b):
        return RoutingSummary(
            3,
            ["l0", "l1"],
            {"qa": TaskRouting(1, [[1 / 3] * 3, [0.5, 0.25, 0.25]]), "action": TaskRouting(1, [[1 / 3] * 3, b])},
        )

    same = routing_divergence(summary([0.5, 0.25, 0.25]))
    assert same["mean_js"] == pytest.approx(0.0) and same["max_abs_deviation"] == pytest.approx(0.5 - 1 / 3)
    apart = routing_divergence(summary([0.25, 0.25, 0.5]))
    assert apart["mean_js"] == pytest.approx(js_divergence([0.5, 0.25, 0.25], [0.25, 0.25, 0.5]) / 2)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(math.log(2))
    assert apart["deviation"]["action"][1] == pytest.approx([0.25 - 1 / 3, 0.25 - 1 / 3, 0.5 - 1 / 3], abs=1e-6)
    assert routing_divergence(None) is None


def test_a_seed_changes_the_data_order_and_the_adapter_init_but_not_the_base(tmp_path):
    """The recipe seeds the sampler and (through torch.manual_seed) the adapter's initial weights with the run's
    seed, as crabplus.train.recipe does; the base comes from its checkpoint whatever the seed."""
    from crabplus.data.tokenizer import build_tiny_tokenizer
    from crabplus.model import build_thinker, save_checkpoint
    from crabplus.model.config import ModelConfig
    from crabplus.train.recipe import build_model
    from crabplus.train.sampler import TaskBalancedSampler

    def order(seed):
        sampler = TaskBalancedSampler(
            {"a": list(range(50)), "b": list(range(50, 90))}, temperature=1.0, seed=seed, samples_per_step=4
        )
        return [idx for _, (_, idx, _) in zip(range(5), sampler.batches_from(0))]

    assert order(0) == order(0) and order(0) != order(1)
    tok = build_tiny_tokenizer()
    base_cfg = ModelConfig(preset="tiny", adapter="none")
    save_checkpoint(tmp_path / "base", build_thinker(base_cfg, tok), tok, base_cfg)
    cfg = ModelConfig(preset="tiny", adapter="ilora", checkpoint=str(tmp_path / "base"))

    def state(seed):
        torch.manual_seed(seed)
        return build_model(cfg)[1].state_dict()

    s0, s0b, s1 = state(0), state(0), state(1)
    adapter = [k for k in s0 if ".lora_A" in k or ".lora_route" in k]
    assert adapter and all(torch.equal(s0[k], s0b[k]) for k in adapter)
    assert all(not torch.equal(s0[k], s1[k]) for k in adapter)
    assert all(torch.equal(s0[k], s1[k]) for k in s0 if ".lora_" not in k)  # the frozen base is the same
