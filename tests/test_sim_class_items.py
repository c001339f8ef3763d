"""Simulated polymer items from a model package: real items of the package's training library,
and the package's declared units decide percent vs fraction (the shipped fpi spectra are
fractions up to ~2: bright plastics against the Plastic Scanner's reference)."""
import io

import numpy as np

from firmware.config.model import read_trusted_issuers
from firmware.model_package import load_package
from firmware.sim.samples import ClassSource, LibrarySource, parse_sample

from device_support import FPI_PACKAGE, LED8_PACKAGE


def test_classes_draw_real_library_items():
    pkg = load_package(FPI_PACKAGE, read_trusted_issuers())
    source = parse_sample("pet", pkg)
    assert isinstance(source, LibrarySource)
    with np.load(io.BytesIO(pkg.files["library.npz"])) as lib:
        rows = lib["fpi_source_values"][lib["labels"] == "PET"]
        wl = lib["fpi_source_wavelengths_nm"]
    rng = np.random.default_rng(0)
    drawn = [source.draw(rng) for _ in range(20)]
    for item in drawn:
        assert np.allclose(item.wavelengths_nm, wl)
        assert np.isclose(rows, item.reflectance, atol=1e-6).all(axis=1).any()  # one of the measured items
    assert len({tuple(np.round(i.reflectance[:5], 5)) for i in drawn}) > 5     # and not always the same


def test_led8_library_items_are_band_values():
    pkg = load_package(LED8_PACKAGE, read_trusted_issuers())
    item = parse_sample("pla", pkg).draw(np.random.default_rng(1))
    assert item.kind == "bands" and item.reflectance.shape == (8,)


def test_declared_fraction_is_never_taken_for_percent():
    wl = list(np.arange(1500.0, 1900.0, 5.0))
    entry = {"wavelengths_nm": wl, "mean": [1.6] * len(wl), "sd": [0.0] * len(wl)}  # PC-like: 160 %
    fraction = {"head": "fpi", "input": {"units": "relative reflectance (fraction, 1.0 = white reference)"},
                "reference_spectra": {"PC": entry}}
    percent = {"head": "fpi", "input": {"units": "percent"}, "reference_spectra": {"PC": entry}}
    rng = np.random.default_rng(0)
    a, b = parse_sample("pc", fraction), parse_sample("pc", percent)
    assert isinstance(a, ClassSource)  # a manifest without a library: mean and sd
    assert np.allclose(a.draw(rng).reflectance, 1.6) and np.allclose(b.draw(rng).reflectance, 0.016)
