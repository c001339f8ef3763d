"""Smoke test of ``bench/bench_bureau.py`` (the full run is ``make bench``)."""
from __future__ import annotations

import pytest

from bench import bench_bureau


@pytest.mark.slow
def test_bench_bureau_quick(mosquitto_bin, pg_server):
    figures = {f.name.split(" (")[0]: f for f in bench_bureau.run(quick=True, pg_server=pg_server)}
    assert set(figures) == {"plain subscriber drain", "parse + validate + verify only",
                            "the same on the full path only", "ingester → SQLite",
                            "ingester → PostgreSQL", "2 ingesters, shared subscription → PostgreSQL"}
    assert all(f.value > 0 for f in figures.values())
    plain = figures["plain subscriber drain"].value
    for name in ("ingester → SQLite", "ingester → PostgreSQL"):
        assert figures[name].ratio == pytest.approx(figures[name].value / plain)
    assert figures["2 ingesters, shared subscription → PostgreSQL"].reference == "one ingester → PostgreSQL"
