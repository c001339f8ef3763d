"""Each step of ``nir-host calibrate-unit`` on its own, pass and fail, against a small stand-in unit
(TEST-ONLY: the port seen through `firmware.optics` with a wavelength error, a gain error, noise and
stray light) instead of the register-level simulator: the steps' logic in milliseconds. The full
workflow on the real simulator is in test_calibrate_unit_cli.py."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from firmware.calibration.certificate import validate_certificate
from firmware.config.model import MODELS_DIR
from firmware.model_package import load_package
from firmware.optics import fpi_grid, fpi_optics, led8_optics
from firmware.signing import generate_key, verify_document
from firmware.sim.standards import nist_hdpe_spectrum, srm2035_spectrum
from host.unitcal import certificate, photometric, prepare, wavelength
from host.unitcal.bands import Band, band_centres, led8_shift
from host.unitcal.device import DeviceRequestError
from host.unitcal.run import Run
from host.unitcal.standards import FPI_STANDARD
from host.unitcal.transfer import ReferenceItem, agreement, agrees

GRID = fpi_grid()
IDENTITY = {"photometric": {"scale": 1.0, "offset": 0.0},
            "wavelength": {"shift_nm": 0.0, "stretch": 0.0, "pivot_nm": 1700.0, "method": "none"}}


@pytest.fixture(scope="module")
def pe():
    return nist_hdpe_spectrum(load_package(MODELS_DIR / "fpi-1550-1850-v1", None))


class StandIn:
    """Device + bench in one: what lies on the port, seen by a unit with errors, corrections applied."""

    def __init__(self, pe, *, error_nm=0.0, gain=0.0, noise=0.0, stray=0.01, temps=None, refuse=None, seed=1):
        self.pe, self.error, self.gain, self.noise, self.stray = pe, error_nm, gain, noise, stray
        self.temps = list(temps or [])
        self.refuse = refuse
        self.rng = np.random.default_rng(seed)
        self.corr = json.loads(json.dumps(IDENTITY))
        self.spec = "empty"
        self.trials = []

    def place(self, spec, instruction, item=None):
        self.spec = spec

    def session(self, action, corrections=None):
        if action == "trial":
            self.corr = json.loads(json.dumps(corrections))
            self.trials.append(self.corr)
        return {}

    def reference(self, kind):
        if self.refuse:
            raise DeviceRequestError(self.refuse, 409)
        return {"kind": kind, "temperature_c": 25.0}

    def _true(self) -> np.ndarray:
        residual = self.error - self.corr["wavelength"]["shift_nm"]
        if self.spec == "white":
            return np.full(GRID.size, 0.99)  # the unit's own tile: its gain error cancels
        if self.spec == "trap":
            return np.zeros(GRID.size)
        if self.spec.startswith("grey:"):
            return np.full(GRID.size, float(self.spec[5:]) / 100 * (1 + self.gain))
        if self.spec == FPI_STANDARD.spec:
            return fpi_optics(GRID + residual).measure(*self.pe) * (1 + self.gain)
        raise AssertionError(f"nothing known about {self.spec}")

    def scan(self, *, scans=None, repeats=1, interval_s=0.0, predict=False):
        if self.refuse:
            raise DeviceRequestError(self.refuse, 409)
        out = []
        for i in range(repeats):
            true = self._true()
            p = self.corr["photometric"]
            refl = np.stack([p["scale"] * (true + self.noise * self.rng.standard_normal(GRID.size)) + p["offset"]
                             for _ in range(scans or 3)])
            net = (true if self.spec != "trap" else np.full(GRID.size, self.stray)) * 1e6
            out.append({"temperature_c": self.temps[i] if i < len(self.temps) else 25.0, "net": net.tolist(),
                        "reflectance": refl.tolist(), "mean": refl.mean(axis=0).tolist(), "prediction": None})
        return {"repeats": out}


def _run(unit) -> Run:
    return Run(unit, unit, "fpi", GRID, corrections=json.loads(json.dumps(IDENTITY)), log=lambda m: None)


def _check(run, cid):
    return next(c for c in run.checks if c.id == cid)


# --- bands and the standard's reference values ---------------------------------------------------

def test_the_fpi_standards_reference_values_are_what_the_master_optics_give(pe):
    """FPI_STANDARD's band centres are derived, not typed in: the nominal fpi optics + band_centres on
    NIST's HDPE spectrum (the package's 0 wt % PP blend end) give them to 0.01 nm."""
    found = band_centres(GRID, fpi_optics(GRID).measure(*pe), (1730.0, 1764.0, 1817.0))
    assert [round(b.found_nm, 2) for b in found] == list(FPI_STANDARD.bands_nm)


@pytest.mark.parametrize("error_nm", [-7.3, -2.5, 0.0, 1.7, 6.0])
def test_band_centres_follow_a_wavelength_error_to_a_tenth_of_a_nanometre(pe, error_nm):
    bands = band_centres(GRID, fpi_optics(GRID + error_nm).measure(*pe), FPI_STANDARD.bands_nm)
    assert all(abs(b.error_nm + error_nm) <= 0.15 for b in bands)


def test_a_band_outside_the_search_window_is_not_found_and_says_so():
    flat = np.full(GRID.size, 0.5)
    assert band_centres(GRID, flat, [1700.0])[0].detail == "no absorbance maximum within 1700 ± 15 nm"


def test_fit_error_takes_a_stretch_only_from_bands_far_apart():
    bands = [Band(r, r - (2.0 + 0.01 * (r - 1700.0))) for r in (1560.0, 1700.0, 1840.0)]
    shift, stretch = wavelength.fit_error(bands)
    assert (shift, stretch) == (pytest.approx(2.0), pytest.approx(0.01))
    near = [Band(r, r - 2.0) for r in FPI_STANDARD.bands_nm]
    assert wavelength.fit_error(near) == (pytest.approx(2.0), 0.0)


def test_led8_shift_is_recovered_from_the_srm2035_standard():
    wl = np.arange(700.0, 2600.0, 0.5)
    r = srm2035_spectrum(wl)
    for shift in (-6.0, 0.0, 4.5):
        found, misfit = led8_shift(1.2 * led8_optics().measure(wl, r, wavelength_shift_nm=shift), wl, r)
        assert found == pytest.approx(shift, abs=0.05) and misfit < 1e-3


# --- step 1 --------------------------------------------------------------------------------------

def test_warm_up_passes_when_stable_and_fails_on_drift(pe):
    run = _run(StandIn(pe, temps=[25.0, 25.05, 25.1, 25.1, 25.12]))
    assert prepare.warm_up(run, readings=5, interval_s=0)
    run = _run(StandIn(pe, temps=[25.0, 25.4, 25.8, 26.2, 26.6]))
    assert not prepare.warm_up(run, readings=5, interval_s=0)
    assert _check(run, "warmup.temperature_span").value == pytest.approx(1.6) and run.failed


def test_references_fail_with_the_devices_reason(pe):
    assert prepare.references(_run(StandIn(pe)))
    run = _run(StandIn(pe, refuse="cannot start referencing: fault: lamp gives no light"))
    assert not prepare.references(run)
    assert "lamp gives no light" in _check(run, "references.white").detail


# --- step 2 --------------------------------------------------------------------------------------

def test_wavelength_within_tolerance_needs_no_correction(pe):
    unit = StandIn(pe, error_nm=0.4)
    run = _run(unit)
    assert wavelength.verify(run, scans=3) and unit.trials == []
    assert _check(run, "wavelength.band_1730.47.as_found").passed is None


def test_a_wavelength_error_is_corrected_and_verified_again(pe):
    unit = StandIn(pe, error_nm=6.0)
    run = _run(unit)
    assert wavelength.verify(run, scans=3)
    assert unit.trials[-1]["wavelength"]["shift_nm"] == pytest.approx(6.0, abs=0.2)
    assert unit.trials[-1]["wavelength"]["method"] == "fpi-table"
    assert _check(run, "wavelength.band_1730.47.as_found").value == pytest.approx(-6.0, abs=0.2)
    assert abs(_check(run, "wavelength.band_1730.47").value) < 0.3


def test_noisy_bands_that_disagree_are_not_corrected_and_fail(pe):
    unit = StandIn(pe, error_nm=3.0, noise=0.004, seed=3)
    run = _run(unit)
    assert not wavelength.verify(run, scans=1)
    assert unit.trials == [] and any("disagree" in c.detail for c in run.failed)


def test_a_refused_wavelength_scan_fails_every_band(pe):
    run = _run(StandIn(pe, refuse="device busy"))
    assert not wavelength.verify(run)
    assert [c.id for c in run.failed] == [f"wavelength.band_{b:g}" for b in FPI_STANDARD.bands_nm]


# --- step 3 --------------------------------------------------------------------------------------

def test_a_gain_error_fails_linearity_as_found_and_is_corrected(pe):
    unit = StandIn(pe, gain=0.2)
    run = _run(unit)
    assert photometric.linearity(run, scans=2)
    assert _check(run, "photometric.linearity_slope.as_found").value == pytest.approx(1.2, abs=1e-9)
    assert unit.trials[-1]["photometric"]["scale"] == pytest.approx(1 / 1.2, rel=1e-5)
    assert _check(run, "photometric.linearity_slope").value == pytest.approx(1.0, abs=1e-6)


def test_corrections_compose_with_the_one_in_force():
    again = photometric.corrected({"scale": 0.9, "offset": 0.01}, slope=1.1, intercept=0.02)
    raw = np.array([0.1, 0.5, 0.9])
    out_before = 0.9 * raw + 0.01                       # what the unit reports now
    certified = (out_before - 0.02) / 1.1               # the greys' certified values
    np.testing.assert_allclose(again["scale"] * raw + again["offset"], certified, atol=1e-6)


def test_noise_repeatability_and_stray_light_pass_and_fail(pe):
    run = _run(StandIn(pe, noise=1e-5))
    assert photometric.noise(run) and photometric.repeatability(run) and photometric.stray_light(run)
    noisy = _run(StandIn(pe, noise=0.004))
    assert not photometric.noise(noisy) and not photometric.repeatability(noisy)
    assert {c.id for c in noisy.failed} == {"photometric.noise_high_flux", "photometric.noise_low_flux",
                                             "photometric.repeatability"}
    stray = _run(StandIn(pe, stray=0.12))
    photometric.noise(stray)
    assert not photometric.stray_light(stray)
    assert _check(stray, "photometric.stray_light").value == pytest.approx(12.0 / 0.99, rel=1e-6)


def test_rms_noise_is_in_milli_absorbance_units():
    r = np.array([[1.0, 0.1], [10 ** -0.002, 0.1 * 10 ** -0.002]])  # ±1 mAU about the mean
    assert photometric.rms_noise_mau(r) == pytest.approx(1.0)


# --- step 4 --------------------------------------------------------------------------------------

def test_agreement_compares_verdict_class_and_composition_within_tolerance():
    pp = lambda v, u=0.5: {"pp_wt_pct": {"value": v, "uncertainty": u, "unit": "wt%"}}  # noqa: E731
    master = {"verdict": "identified", "class": "PP", "composition": pp(50.0)}
    assert agrees({**master, "composition": pp(51.5)}, master) == (True, "")
    assert agrees({**master, "composition": pp(53.0)}, master)[1].startswith("pp_wt_pct 53.00 vs master 50.00")
    assert agrees({**master, "composition": {}}, master) == (False, "pp_wt_pct: master only")
    assert agrees({**master, "verdict": "ambiguous"}, master)[0] is False
    items = [ReferenceItem("a", "PP", expected=master), ReferenceItem("b", None, expected=master)]
    agr = agreement(items, [{"prediction": master}, {"prediction": {**master, "class": "HDPE"}}])
    assert (agr["agree"], agr["n"], agr["fraction"], agr["class_accuracy"]) == (1, 2, 0.5, 1.0)


# --- step 5 --------------------------------------------------------------------------------------

def test_the_certificate_is_signed_valid_and_renders_every_check(pe, tmp_path):
    key = generate_key()
    unit = StandIn(pe, error_nm=6.0, gain=0.2, noise=0.004)
    run = _run(unit)
    wavelength.verify(run, scans=3)
    photometric.run_all(run)
    doc = certificate.build(run, unit="nir-0123456789ab", serial="SIM-1", technician="A. Tech", key=key,
                            interval_days=30, firmware="0.1.0", now=datetime(2026, 11, 27, tzinfo=timezone.utc))
    cert = validate_certificate(doc)
    verify_document(doc, doc["issuer_public_key"])
    assert (cert.passed, str(cert.due)) == (False, "2026-12-27")
    assert "photometric.noise_low_flux" in cert.failed_checks
    assert doc["corrections"]["photometric"]["scale"] == pytest.approx(1 / 1.2, rel=3e-3)
    files = certificate.write(doc, tmp_path, pdf=False)
    html = (tmp_path / "certificate.html").read_text()
    assert json.loads((tmp_path / "certificate.json").read_text()) == doc and files["pdf"] is None
    assert "FAILED: " in html and html.count("<tr id=\"check-") == len(doc["checks"])
    assert "Next due</th><td><strong>2026-12-27" in html and "A. Tech" in html
    assert 'id="pdf-note">PDF: PDF not requested' in html


class TransferBench:
    """Bench + device for the transfer step: answers per item from the model installed (by its zip)."""

    def __init__(self, answers_by_model):
        self.answers = answers_by_model
        self.installed = "master"
        self.item = None
        self.installs = []

    def place(self, spec, instruction, item=None):
        self.item = spec.removeprefix("item:")

    def scan(self, *, scans=None, repeats=1, interval_s=0.0, predict=False):
        return {"repeats": [{"mean": [0.5] * GRID.size, "prediction": self.answers[self.installed][self.item]}]}

    def install_model(self, package_zip):
        import io as io_module
        import zipfile
        with zipfile.ZipFile(io_module.BytesIO(package_zip)) as zf:
            name = json.loads(zf.read("manifest.json"))["name"]
        self.installed = "adapted" if name == "fpi-1550-1850-v1-unit" else "master"
        self.installs.append(self.installed)
        return {"installed": {"name": self.installed}}


def _fake_adapt(monkeypatch, tmp_path):
    import host.calib.adapt
    import host.package_writer

    class Pkg:
        def summary(self):
            return {"name": "fpi-1550-1850-v1-unit", "version": "1", "sha256": "0" * 64}

    def write(out, manifest, onnx, key, files):
        out.mkdir(parents=True)
        (out / "manifest.json").write_text(json.dumps({"name": "fpi-1550-1850-v1-unit"}))
        return Pkg()

    monkeypatch.setattr(host.calib.adapt, "adapt", lambda model, table, name, progress: ({}, b"", {}, {"n": 1}))
    monkeypatch.setattr(host.package_writer, "write_package", write)


@pytest.mark.parametrize("adapted_is_better", [True, False])
def test_transfer_installs_the_adapted_model_or_keeps_the_master_if_it_agrees_less(monkeypatch, tmp_path,
                                                                                    adapted_is_better):
    from host.unitcal import transfer
    _fake_adapt(monkeypatch, tmp_path)
    ident = lambda c: {"verdict": "identified", "class": c, "composition": {}}  # noqa: E731
    items = [ReferenceItem(f"{c}-1", c, expected=ident(c)) for c in ("PP", "PET", "PS")]
    good = {it.id: ident(it.label) for it in items}
    worse = {**good, "PS-1": ident("PP")}
    bench = TransferBench({"master": worse if adapted_is_better else good,
                           "adapted": good if adapted_is_better else worse})
    run = Run(bench, bench, "fpi", GRID, corrections=json.loads(json.dumps(IDENTITY)), log=lambda m: None)
    ok = transfer.transfer(run, items, model_path=MODELS_DIR / "fpi-1550-1850-v1", key=generate_key(),
                           out_dir=tmp_path, name="fpi-1550-1850-v1-unit")
    check = _check(run, "transfer.agreement")
    if adapted_is_better:
        assert ok and bench.installs == ["adapted"] and check.value == 1.0
    else:
        assert ok and bench.installs == ["adapted", "master"] and "the master model was kept" in check.detail
        assert run.figures["model"]["name"] == "fpi-1550-1850-v1"


def test_a_real_benchs_reference_set_carries_the_masters_answers(tmp_path):
    import io as io_module
    from firmware.spectra_csv import SpectraTable, write_spectra_csv
    from host.unitcal.transfer import reference_set_from_csv
    pkg = load_package(MODELS_DIR / "fpi-1550-1850-v1", None)
    lib = np.load(io_module.BytesIO(pkg.files["library.npz"]))
    labels = lib["labels"].astype(str)
    rows = [int(np.flatnonzero(labels == c)[0]) for c in ("PET", "PP")]
    # what the master unit reads of them (its fpi optics), and a black tray
    master = fpi_optics(GRID).measure(lib["fpi_source_wavelengths_nm"], lib["fpi_source_values"][rows])
    values = np.vstack([master, np.full((1, GRID.size), 0.02)])
    table = SpectraTable(GRID, values,
                         {"sample_id": ["pet-a", "pp-a", "black-a"], "label": ["PET", "PP", ""]})
    write_spectra_csv(tmp_path / "ref.csv", table)
    items = reference_set_from_csv(tmp_path / "ref.csv", MODELS_DIR / "fpi-1550-1850-v1")
    assert [(it.id, it.label) for it in items] == [("pet-a", "PET"), ("pp-a", "PP"), ("black-a", None)]
    assert [it.expected["class"] for it in items[:2]] == ["PET", "PP"]
    assert items[2].expected["verdict"] == "rejected"
