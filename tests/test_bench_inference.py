"""Smoke run of bench/bench_inference.py (the full run is `make bench`; timings are not asserted here)."""
from bench import bench_inference


def test_bench_inference_quick_produces_its_figures():
    figures = bench_inference.run(quick=True)
    names = [f.name for f in figures]
    assert "ONNX speed-up over scikit-learn" in names
    for f in figures:
        assert f.value > 0 and f.unit in ("µs", "×")
