"""ONNX graph vs the equivalent scikit-learn chain, one spectrum at a time (issue 3: ≥ 10×, < 100 µs).

Both sides compute the same outputs (class scores, T², Q, class distances, one PLS quantity)
for the same 61-point fpi spectra, measured alternately in one run so the ratio survives a
noisy shared machine. The chain is fitted on simulated spectra (no data folder needed) with
the shipped fpi model's shape (`FPI_QUICK`: Savitzky–Golay 2nd derivative → SNV, 30 PCA
components, temperature-scaled LDA, per-class distances, PLS). The shipped package's own graph
is timed too when present.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench import Figure

REPO = Path(__file__).resolve().parents[1]


def _chain():
    from firmware.optics import fpi_optics
    from host.calib.chain import SpectralChain
    from host.calib.headdata import FPI_QUICK
    from host.calib.quantify import QuantityModel
    from host.calib.simulated import BANDS, simulate

    wl = np.arange(1450.0, 1950.0, 2.0)
    rng = np.random.default_rng(0)
    X, y = [], []
    for p in BANDS:
        v, _ = simulate(p, wl, 10, 3, rng)
        X.append(fpi_optics().measure(wl, v))
        y += [p] * len(v)
    X = np.vstack(X)
    ident = FPI_QUICK.build().fit(X, np.array(y)).set_temperature(8.0)
    q = QuantityModel(n_components=6).fit(X, rng.uniform(0, 100, len(X)))
    return SpectralChain(ident, [("pp_wt_pct", q)]), X


def _per_call_us(fn, items, repeats: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        for x in items:
            fn(x)
    return (time.perf_counter() - t0) / (repeats * len(items)) * 1e6


def run(quick: bool) -> list[Figure]:
    import onnxruntime as ort

    from host.calib.export import to_onnx

    chain, X = _chain()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(to_onnx(chain, X.shape[1]).SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    items32 = [X[i:i + 1].astype(np.float32) for i in range(0, len(X), 3)][: 10 if quick else 60]
    items64 = [x.astype(np.float64) for x in items32]
    onnx_fn = lambda x: sess.run(None, {"spectrum": x})  # noqa: E731
    _per_call_us(onnx_fn, items32, 3)
    _per_call_us(chain.outputs, items64, 1)
    rounds = 2 if quick else 5
    onnx_us, sk_us = [], []
    for _ in range(rounds):  # interleaved, so load changes hit both sides alike
        onnx_us.append(_per_call_us(onnx_fn, items32, 20 if quick else 100))
        sk_us.append(_per_call_us(chain.outputs, items64, 1 if quick else 5))
    o, s = float(np.median(onnx_us)), float(np.median(sk_us))
    figures = [
        Figure("ONNX graph, one spectrum (onnxruntime, 1 thread)", o, "µs", target="< 100"),
        Figure("scikit-learn chain, one spectrum", s, "µs"),
        Figure("ONNX speed-up over scikit-learn", s / o, "×", ratio=o / s,
               reference="scikit-learn chain, same run", target="≥ 10"),
    ]
    shipped = REPO / "models" / "fpi-1550-1850-v1"
    if (shipped / "model.onnx").exists():
        from firmware.inference import Model
        model = Model.load(shipped, None, threads=1)
        x = np.full((1, model.wavelengths_nm.size), 0.5, dtype=np.float32)
        x[0, ::2] = 0.45
        model.run(x)
        figures.append(Figure("shipped fpi model: run + verdict, one spectrum",
                              _per_call_us(model.predict, [x], 200 if quick else 2000), "µs", target="< 100"))
    return figures
