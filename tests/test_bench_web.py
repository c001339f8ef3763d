import math

from bench import bench_web


def test_web_bench_smoke():
    figures = {f.name: f for f in bench_web.run(quick=True)}
    assert len(figures) == 6
    for f in figures.values():
        assert math.isfinite(f.value) and f.value > 0, f
        assert f.ratio is None or (math.isfinite(f.ratio) and f.ratio > 0), f
    # No external resources and a server-drawn SVG: the Now page stays a few kB for a phone.
    assert 1 < figures["Now page size"].value < 50
