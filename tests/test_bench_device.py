import math

from bench import bench_device


def test_device_bench_smoke():
    figures = {f.name: f for f in bench_device.run(quick=True)}
    assert len(figures) == 9
    for f in figures.values():
        assert math.isfinite(f.value) and f.value >= 0, f
        assert f.ratio is None or (math.isfinite(f.ratio) and f.ratio >= 0), f
    software = figures["fpi measurement: software time (3 sweeps, sim)"]
    # three fpi sweeps take ~2.9 s on the board (docs/HARDWARE.md); software is a small fraction
    assert 2.5 < figures["fpi measurement: physical acquisition time (3 sweeps)"].value < 3.5
    assert 0 < software.ratio < 1
    parts = [f.value for name, f in figures.items() if name.startswith("  of which")]
    assert abs(sum(parts) - software.value) < 0.05 * software.value + 1.0
    assert figures["nir-device run: start to ready (READY=1, state ready)"].value > 0
