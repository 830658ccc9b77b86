"""Write the golden values of tests/test_goldens.py into tests/goldens/ (never edit those files by hand).

    .venv/bin/python scripts/make_goldens.py            # regenerate both
    .venv/bin/python scripts/make_goldens.py --check    # recompute and say whether they still match

Run it when a change is *meant* to move a number (a new loss, a metric fix, a dependency update), and say in the
commit why the numbers moved. What each golden is: tests/helpers/goldens.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CRABPLUS_QUIET", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test helpers: tests/helpers/
from helpers.goldens import GOLDENS, curve_differences, loss_curve, make_synth, read_golden, report_numbers  # noqa: E402,E501


def compute() -> dict[str, dict]:
    with tempfile.TemporaryDirectory(prefix="golden-synth-") as tmp:
        curve = loss_curve(make_synth(Path(tmp)))
    return {"loss_curve": curve, "report": report_numbers()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored goldens; write nothing")
    args = parser.parse_args(argv)
    values = compute()
    if args.check:  # the rule of tests/test_goldens.py: the report exactly, the loss curve to REL
        stale = curve_differences(values["loss_curve"], read_golden("loss_curve"))
        stale += [
            f"report {key}" for key, value in read_golden("report").items() if values["report"].get(key) != value
        ] + [f"report {key} (new)" for key in values["report"].keys() - read_golden("report").keys()]
        print("goldens match" if not stale else "goldens differ:\n  " + "\n  ".join(stale))
        return 1 if stale else 0
    GOLDENS.mkdir(parents=True, exist_ok=True)
    for name, value in values.items():
        path = GOLDENS / f"{name}.json"
        path.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(GOLDENS.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
