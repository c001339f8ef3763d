"""Smoke test of ``bench/bench_link.py`` (the full run is ``python -m bench --only link``)."""
from __future__ import annotations

import pytest

from bench import bench_link


@pytest.mark.slow
def test_bench_link_quick(mosquitto_bin):
    figures = bench_link.run(quick=True)
    assert len(figures) == 6 and all(f.value > 0 for f in figures)
    bureau = figures[0]
    drain = figures[1]
    assert bureau.name.startswith("bureau alone") and "drained after an outage" in drain.name
    assert drain.ratio == pytest.approx(drain.value / bureau.value) and drain.reference == "bureau alone"
    assert figures[2].value == pytest.approx(200 / drain.value)
    assert "without persistence" in figures[-1].name
