"""Small synthetic training sets and packages for the calibration tests (no real data needed)."""
from __future__ import annotations

import numpy as np

from firmware.optics import fpi_optics
from host.calib.chain import OUTPUT_DOC, SpectralChain
from host.calib.export import to_onnx
from host.calib.identify import Identifier
from host.calib.quantify import QuantityModel
from host.calib.simulated import simulate

SRC_WL = np.arange(1450.0, 1950.0, 2.0)
POLYMERS = ["PBAT", "PBS", "PCL", "STARCH"]


def synthetic_fpi(n_items=6, seed=0):
    """Measured fpi spectra (N, 61), labels, groups of simulated degradable polymers."""
    rng = np.random.default_rng(seed)
    X, y, g = [], [], []
    for p in POLYMERS:
        vals, items = simulate(p, SRC_WL, n_items, 3, rng)
        X.append(fpi_optics().measure(SRC_WL, vals))
        y += [p] * len(vals)
        g += [f"{p}-{i}" for i in items]
    return np.vstack(X), np.array(y, dtype=object), np.array(g, dtype=object)


def synthetic_chain(with_quantity=True):
    X, y, _ = synthetic_fpi()
    ident = Identifier(n_components=8).fit(X, y)
    qs = []
    if with_quantity:
        qs.append(("thickness", QuantityModel(n_components=3).fit(X, np.linspace(0, 10, len(X)))))
    return SpectralChain(ident, qs), X, y


def manifest_for(chain, X, y, name="fpi-test-v1"):
    classes = [str(c) for c in chain.classes_]
    quantities = [{"name": n, "column": f"y_{n}", "unit": "mm", "valid_range": [0, 10], "applies_to": [],
                   "limits": {"t2": 1e9, "q": 1e9, "range_margin": 1.0},
                   "uncertainty": {"model": "rmsecv * sqrt(1 + t2 / n_train)", "rmsecv": 0.5, "n_train": len(X)},
                   "n_components": 3} for n, _ in chain.quantities]
    return {
        "name": name, "version": "1", "head": "fpi", "wavelengths_nm": fpi_optics().channels_nm.tolist(),
        "input": {"name": "spectrum", "units": "relative reflectance"},
        "outputs": {n: OUTPUT_DOC[n] for n in chain.output_names()},
        "classes": classes, "degradable": {c: c in ("PBAT", "PBS", "PCL", "STARCH") for c in classes},
        "limits": {"t2": 1e6, "q": 1e6, "class_distance": {c: 1e6 for c in classes}, "min_score": 0.2},
        "reference_spectra": {}, "quantities": quantities, "metrics": {}, "provenance": {"note": "test"},
    }


def onnx_bytes(chain):
    return to_onnx(chain, chain.n_features_in_).SerializeToString()
