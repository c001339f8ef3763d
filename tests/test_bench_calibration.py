"""Smoke run of bench/bench_calibration.py (quick: one reference item per class)."""
import pytest

from bench import bench_calibration

pytestmark = pytest.mark.slow


def test_calibration_bench_smoke():
    figures = {f.name: f for f in bench_calibration.run(quick=True)}
    software = figures["calibration workflow, software time (sim, HTTP, adapt, signing)"]
    assert software.ratio is not None and 0 < software.ratio < 1  # far quicker than the physical scans
    assert figures["certificate passed"].value == 1.0
    assert figures["agreement with the master, after calibration"].value >= 0.95
