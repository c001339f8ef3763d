import math

from bench import bench_journal


def test_journal_bench_smoke():
    figures = bench_journal.run(quick=True)
    assert len(figures) == 5
    for f in figures:
        assert math.isfinite(f.value) and f.value > 0, f
        assert f.ratio is None or (math.isfinite(f.ratio) and f.ratio > 0), f
    # a 61-point record with raw counts is a few kB, not tens
    assert 1000 < figures[3].value < 20000
