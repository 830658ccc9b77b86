"""The batch plan and the part files of data-parallel prediction, without a model: the plan is deterministic
and keeps input order at batch 1, the shards cover every batch once, and the merge writes rows in input order,
one per id, with the skip reports merged and the parts removed."""

from __future__ import annotations

import json

import pytest

from crabplus.cli.main import main
from crabplus.infer.batching import plan_batches
from crabplus.infer.shards import done_ids, merge, my_batches, part_files, part_path, read_rows, write_order


def test_batch_1_keeps_input_order_and_larger_batches_group_equal_keys():
    keys = [("s4", 9), ("ks", 5), None, ("s4", 3), ("ks", 5), ("s4", 9)]
    assert plan_batches(keys, 1) == [[0], [1], [3], [4], [5]]  # the unanswerable input is in no batch
    assert plan_batches(keys, 2) == [[1, 4], [3, 0], [5]]
    assert plan_batches(keys, 2) == plan_batches(list(keys), 2)
    with pytest.raises(ValueError, match="batch_size"):
        plan_batches(keys, 0)


@pytest.mark.parametrize("world", [1, 2, 3])
def test_shards_cover_every_batch_once(world):
    batches = [[i] for i in range(7)]
    shards = [my_batches(batches, rank, world) for rank in range(world)]
    assert sorted(b for shard in shards for b in shard) == batches
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def row(rid: str, text: str = "x") -> bytes:
    return (json.dumps({"id": rid, "dataset": "ks", "predict": text}) + "\n").encode()


def test_merge_writes_input_order_one_row_per_id_and_removes_the_parts(tmp_path):
    out = tmp_path / "p.jsonl"
    write_order(out, ["a", "b", "c", "d", "e"])
    out.write_bytes(row("old") + row("c"))  # an earlier run's rows, one of an id the inputs no longer name
    part_path(out, 0, 2).write_bytes(row("e") + row("a"))
    part_path(out, 1, 2).write_bytes(row("c", "again") + row("b") + b'{"id": "d", "pre')  # killed mid-write
    (tmp_path / "p.jsonl.rank1-of-2.jsonl.skipped.jsonl").write_text(
        json.dumps({"id": "d", "reason": "bad"}) + "\n" + json.dumps({"id": "b", "reason": "fixed since"}) + "\n"
    )
    assert done_ids(out, part_path(out, 0, 2)) == {"old", "c", "e", "a", "b"}
    assert part_path(out, 1, 2).read_bytes().endswith(b"pre")  # another rank's file is read, never cut
    counts = merge(out)
    assert out.read_bytes() == row("a") + row("b") + row("c") + row("e") + row("old")
    assert counts == {"rows": 5, "skipped": 1, "missing": 0}
    assert [json.loads(line)["id"] for line in (tmp_path / "p.jsonl.skipped.jsonl").read_text().splitlines()] == ["d"]
    assert part_files(out) == [] and not list(tmp_path.glob("*rank*"))


def test_the_writer_cuts_its_own_torn_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(row("a") + b'{"id": "b"')
    assert list(read_rows(path, repair=False)) == ["a"] and path.read_bytes().endswith(b'"b"')
    assert list(read_rows(path, repair=True)) == ["a"] and path.read_bytes() == row("a")
    path.write_bytes(b"not json\n" + row("a"))
    with pytest.raises(Exception, match="line 1 is not a prediction row"):
        read_rows(path, repair=False)


def test_merge_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert main(["predict", "--merge", str(out)]) == 2
    assert "neither that file nor its part files" in capsys.readouterr().err
    part_path(out, 0, 2).write_bytes(row("b"))
    assert main(["predict", "--merge", str(out)]) == 2
    assert "p.jsonl.order.json" in capsys.readouterr().err  # the order is written when the run starts
    write_order(out, ["a", "b"])
    assert main(["predict", "x.jsonl", "--merge", str(out)]) == 2
    assert "takes no INPUT" in capsys.readouterr().err
    assert main(["predict", "--merge", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"output": str(out), "rows": 1, "skipped": 0, "missing": 1}
    assert out.read_bytes() == row("b")
