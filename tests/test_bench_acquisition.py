"""Smoke test of bench/bench_acquisition.py (the figures themselves come from `python -m bench`)."""
from bench import bench_acquisition


def test_quick_run_reports_ratios_for_both_heads():
    figures = bench_acquisition.run(quick=True)
    names = [f.name for f in figures]
    for head in ("fpi", "led8"):
        timing = next(f for f in figures if f.name == f"{head}: software time per reading (drivers + simulator)")
        physical = next(f for f in figures if f.name == f"{head}: physical acquisition time")
        assert physical.value > 0 and timing.value > 0
        assert timing.ratio == timing.value / 1e3 / physical.value
    assert len(names) == 10
