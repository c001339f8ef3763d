"""Smoke test of the benchmark runner (``python -m bench``): one table, Markdown + JSON, failures
reported without hiding the other benchmarks' figures. Uses the quick journal benchmark (< 1 s)."""
from __future__ import annotations

import json

import pytest

from bench import __main__ as runner
from bench import bench_journal


def test_runner_writes_one_table_as_markdown_and_json(tmp_path, capsys):
    out = tmp_path / "results" / "latest.md"
    assert runner.main(["--quick", "--only", "journal", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = out.read_text()
    assert table.startswith("quick run, ")
    assert "| benchmark | figure | value | unit | ratio | ratio against | target |" in printed
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]  # after the header
    assert "Machine: " in table and "cores" in table
    data = json.loads(out.with_suffix(".json").read_text())
    # every row is one of bench_journal's figures, each once: nothing from benchmarks not asked for
    assert len(data["figures"]) >= 4 and {f["benchmark"] for f in data["figures"]} == {"bench_journal"}
    assert len(rows) == len(data["figures"]) and all(r.startswith("| journal |") for r in rows)
    assert data["mode"] == "quick" and data["failed"] == [] and data["machine"] in table
    names = [f["name"] for f in data["figures"]]
    assert names[0] == "build, sign and store one result, synchronous=FULL"
    first = data["figures"][0]
    assert first["benchmark"] == "bench_journal" and first["ratio"] > 0 and first["unit"] == "ms"


def test_a_failing_benchmark_fails_the_run_but_keeps_the_others(tmp_path, monkeypatch, capsys):
    def broken(quick: bool):
        raise RuntimeError("simulated benchmark failure")

    monkeypatch.setattr(bench_journal, "run", broken)
    out = tmp_path / "latest.md"
    assert runner.main(["--quick", "--only", "journal", "--only", "web", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "simulated benchmark failure" in err and "benchmarks failed: bench_journal" in err
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["failed"] == ["bench_journal"]
    assert {f["benchmark"] for f in data["figures"]} == {"bench_web"}


def test_unknown_benchmark_name_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        runner.main(["--only", "nonexistent", "--out", "-"])
    assert exc.value.code == 2
    assert "no benchmark nonexistent; known: acquisition" in capsys.readouterr().err
