"""Why a demo's matching answers miss: for AVSynth's A2V and V2A, each candidate's description in the answer's
chain against the reference chain's, and whether the final choice follows the answer's own chain.

    .venv/bin/python benchmarks/matching_chains.py RUN [RUN ...] [--out FILE.json]

``RUN`` is a ``crabplus demo`` output folder (its ``data/<dataset>/test.jsonl`` and ``eval/predictions.jsonl``).
AVSynth's matching targets reason before they choose: A2V "I hear …, the sound of a green circle. Video 1 shows a
red square; video 2 shows a green circle …. <answer>2</answer>", V2A "I see a blue circle. Audio 1 is …, the sound
of a magenta circle; audio 2 is …, the sound of a blue circle. <answer>2</answer>". Per dataset and run it counts:
the answers with a choice; the right choices; candidate 1 and candidate 2 described as the reference describes
them (the exact words); the chains that single out one candidate (the heard / seen shape named for exactly one);
and of those, the choices that follow the chain. A model that describes both candidates right but does not
follow its own chain misses in the last step; one that describes the second candidate as the first misses in
perception. Written by hand: it reads AVSynth's own chain wording, which no library knows.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from crabplus.evaluate.inputs import load_predictions
from crabplus.schema.records import RecordError, load_records
from crabplus.utils.io import atomic_write_json

CHOICE = re.compile(r"<answer>\s*(\d)")
#: what each chain names: (the reference thing, candidate 1, candidate 2)
CHAINS = {
    "a2v": (
        re.compile(r"the sound of an? ([a-z]+ [a-z]+)"),
        re.compile(r"Video 1 shows ([^;]+);"),
        re.compile(r"video 2 shows ([^.]+)\."),
    ),
    "v2a": (
        re.compile(r"I see an? ([a-z]+ [a-z]+)"),
        re.compile(r"Audio 1 is [^;]*?the sound of an? ([a-z]+ [a-z]+)"),
        re.compile(r"audio 2 is [^.]*?the sound of an? ([a-z]+ [a-z]+)"),
    ),
}


@dataclass
class ChainCounts:
    run: str
    dataset: str
    answers: int = 0
    right: int = 0
    first_described: int = 0
    second_described: int = 0
    decisive_chains: int = 0
    choice_follows_chain: int = 0


def _said(patterns, text: str) -> tuple[str, str, str] | None:
    found = [p.search(text) for p in patterns]
    return tuple(m.group(1) for m in found) if all(found) else None  # type: ignore[return-value]


def chain_choice(dataset: str, reference: str, first: str, second: str) -> int | None:
    """The candidate (1 or 2) a chain singles out: the one whose description names the reference, if only one
    does (A2V: the heard shape among the shapes a video shows; V2A: the seen shape as the sound's maker)."""
    hit = (reference in first, reference in second) if dataset == "a2v" else (reference == first, reference == second)
    return 1 if hit == (True, False) else 2 if hit == (False, True) else None


def count_run(run: Path, dataset: str) -> ChainCounts:
    predicted = {row.id: row.predict for row in load_predictions(run / "eval" / "predictions.jsonl")}
    counts = ChainCounts(run=str(run), dataset=dataset)
    for record in load_records(run / "data" / dataset / "test.jsonl"):
        answer = predicted.get(record.id, "")
        choice = CHOICE.search(answer)
        if not choice:
            continue
        counts.answers += 1
        counts.right += int(choice.group(1)) == record.answer.choice
        said, truth = _said(CHAINS[dataset], answer), _said(CHAINS[dataset], record.target)
        if said is None or truth is None:
            continue
        counts.first_described += said[1] == truth[1]
        counts.second_described += said[2] == truth[2]
        follows = chain_choice(dataset, *said)
        if follows is not None:
            counts.decisive_chains += 1
            counts.choice_follows_chain += follows == int(choice.group(1))
    return counts


def table(rows: list[ChainCounts]) -> str:
    lines = [
        "| run | dataset | answers | right | candidate 1 described right | candidate 2 | decisive chains | "
        "choice follows the chain |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.run} | {r.dataset} | {r.answers} | {r.right} | {r.first_described} | {r.second_described} | "
            f"{r.decisive_chains} | {r.choice_follows_chain} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="crabplus demo output folders")
    p.add_argument("--out", type=Path, help="also write the counts as JSON here")
    args = p.parse_args(argv)
    rows = []
    for run in args.runs:
        for dataset in CHAINS:
            needed = (run / "data" / dataset / "test.jsonl", run / "eval" / "predictions.jsonl")
            missing = [str(f) for f in needed if not f.is_file()]
            if missing:
                print(f"matching_chains: {missing[0]}: no such file (not a crabplus demo folder?)", file=sys.stderr)
                return 2
            try:
                rows.append(count_run(run, dataset))
            except RecordError as exc:  # a damaged file: one line naming the file, line and field
                print(f"matching_chains: {exc}", file=sys.stderr)
                return 2
    print(table(rows))
    if args.out:
        atomic_write_json(args.out, {"command": " ".join(sys.argv), "rows": [asdict(r) for r in rows]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
