"""The unit's calibration in the device runtime (simulated unit, real pipeline and journal):
installing certificates, refusing to measure on a failing / past-due / missing-but-required one,
corrections applied (fpi coefficient table, photometric factor), the calibration session, and
technician scans that journal nothing."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from calibration_support import certificate
from device_support import make_runtime, package_of, white_reference
from firmware.errors import CertificateError, NotReady
from firmware.signing import generate_key, public_key_b64
from host.unitcal.bands import band_centres
from host.unitcal.standards import FPI_STANDARD


@pytest.fixture(scope="module")
def tech_key():
    return generate_key()


def _runtime(tmp_path, key, **sections):
    base = {"calibration": {"trusted_keys": [public_key_b64(key)]}}
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return make_runtime(tmp_path / "unit", base)


def _events(rt, code):
    return [e for e in rt.journal.events() if e["kind"] == "calibration" and e["code"] == code]


def test_a_failing_certificate_refuses_measuring_until_a_passing_one_replaces_it(tmp_path, tech_key):
    with _runtime(tmp_path, tech_key) as rt:
        white_reference(rt)
        unit = rt.identity.unit
        failing = certificate(unit, tech_key, failed=("photometric.noise_low_flux",), cid="cal-a")
        answer = rt.install_calibration(failing)
        assert answer["state"] == "needs_calibration" and "cal-a failed: Check photometric.noise_low_flux" in \
            answer["reason"]
        rt.board.sim.place("white")
        with pytest.raises(NotReady, match=r"calibration: calibration certificate failing or past due "
                                           r"\(certificate cal-a failed"):
            rt.measure({"sample_id": "s1"})
        assert rt.snapshot()["state"] == "needs_calibration" and rt.journal.last_seq() == 0
        assert _events(rt, "certificate-failing")
        # still serviceable: references and calibration scans run, and leave the refusal in place
        white_reference(rt)
        assert rt.technician_scan(scans=1)["repeats"][0]["mean"] is not None
        assert rt.snapshot()["state"] == "needs_calibration"
        passing = certificate(unit, tech_key, cid="cal-b")
        answer = rt.install_calibration(passing)
        assert (answer["state"], answer["replaced"]["id"], answer["replaced"]["passed"]) == ("ready", "cal-a", False)
        record = rt.measure({"sample_id": "s2"})
        assert record["calibration_id"] == "cal-b" and rt.calibration()["calibration_id"] == "cal-b"


def test_required_but_missing_and_past_due_certificates_refuse(tmp_path, tech_key):
    with _runtime(tmp_path, tech_key, calibration={"required": True}) as rt:
        white_reference(rt)
        snap = rt.snapshot()
        assert snap["state"] == "needs_calibration"
        assert "no certificate installed and calibration.required = true" in snap["reason"]
        old = datetime.now(timezone.utc) - timedelta(days=400)
        past = certificate(rt.identity.unit, tech_key, issued=old, due=old.date() + timedelta(days=182), cid="cal-old")
        answer = rt.install_calibration(past)
        assert answer["state"] == "needs_calibration" and answer["reason"].endswith(
            f"certificate cal-old was due {past['due']})")
        with pytest.raises(NotReady, match="was due"):
            rt.measure()


def test_refused_certificates_change_nothing_and_are_journaled(tmp_path, tech_key):
    with _runtime(tmp_path, tech_key) as rt:
        unit = rt.identity.unit
        rt.install_calibration(certificate(unit, tech_key, cid="cal-good"))
        tampered = {**certificate(unit, tech_key, cid="cal-t"), "passed": True, "technician": "someone else"}
        cases = [(certificate("nir-ffffffffffff", tech_key), "is for unit nir-ffffffffffff"),
                 (certificate(unit, generate_key()), "a key this unit does not trust"),
                 (tampered, "signature does not verify"),
                 (certificate(unit, tech_key, head="led8"), "is for the led8 head"),
                 (certificate(unit, tech_key, corrections={"wavelength": {"shift_nm": 3.0, "method": "axis"}}),
                  "method 'axis' does not fit the fpi head")]
        for doc, message in cases:
            with pytest.raises(CertificateError, match=message):
                rt.install_calibration(doc)
        assert rt.calibration()["calibration_id"] == "cal-good"
        assert len(_events(rt, "certificate-refused")) == len(cases)


def test_the_certificate_survives_a_restart_and_a_corrupted_one_is_refused(tmp_path, tech_key):
    with _runtime(tmp_path, tech_key) as rt:
        unit = rt.identity.unit
        doc = certificate(unit, tech_key, cid="cal-keep")
        rt.install_calibration(doc)
        stored = rt.unit_calibration.store.path_of("cal-keep")
    with _runtime(tmp_path, tech_key) as rt:
        assert rt.calibration() == doc and rt.calibration_id() == "cal-keep"
    stored.write_text(json.dumps({**doc, "due": "2099-01-01"}))  # edited on the card: signature breaks
    with _runtime(tmp_path, tech_key) as rt:
        white_reference(rt)
        snap = rt.snapshot()
        assert rt.calibration() is None and snap["state"] == "needs_calibration"
        assert "stored certificate unusable" in snap["reason"] and "signature does not verify" in snap["reason"]
        assert _events(rt, "certificate-unusable")


def _band_errors(rt) -> list[float]:
    # 20 scans averaged: the weak 1817 nm band's centre has an sd of ~0.4 nm over 3 scans (simulated
    # detector noise), ~0.17 nm over 20, so ±0.6 nm below is a check, not a draw of the noise
    rt.board.sim.place(FPI_STANDARD.spec, package=package_of(rt))
    mean = rt.technician_scan(scans=20)["repeats"][0]["mean"]
    return [b.error_nm for b in band_centres(rt.head.wavelengths_nm, np.asarray(mean), FPI_STANDARD.bands_nm)]


def test_the_wavelength_correction_retunes_the_fpi_table(tmp_path, tech_key):
    with _runtime(tmp_path, tech_key, sim={"wavelength_error_nm": 6.0}) as rt:
        white_reference(rt)
        # FPI_STANDARD bands seen 6 nm early: the unit reports λ while it transmits λ + 6 nm
        assert np.allclose(_band_errors(rt), -6.0, atol=0.6)
        corr = {"photometric": {"scale": 1.0, "offset": 0.0},
                "wavelength": {"shift_nm": 6.0, "stretch": 0.0, "pivot_nm": 1700.0, "method": "fpi-table"}}
        rt.install_calibration(certificate(rt.identity.unit, tech_key, corrections=corr))
        assert "corrected by cal-" in rt.head.inner.table.source
        white_reference(rt)  # the sweep changed: a new white reference, as the workflow takes one
        assert np.allclose(_band_errors(rt), 0.0, atol=0.6)


def test_a_session_blocks_measuring_and_aborting_restores_the_certificate(tmp_path, tech_key):
    with _runtime(tmp_path, tech_key) as rt:
        white_reference(rt)
        rt.board.sim.place("grey:50")
        plain = np.mean(rt.technician_scan(scans=2)["repeats"][0]["mean"])
        status = rt.calibration_session("trial", {"photometric": {"scale": 0.6, "offset": 0.0}}, trigger="test")
        assert status["session"] and status["state"] == "needs_calibration"
        assert "calibration in progress" in status["reason"]
        with pytest.raises(NotReady, match="calibration in progress"):
            rt.measure()
        assert np.mean(rt.technician_scan(scans=2)["repeats"][0]["mean"]) == pytest.approx(0.6 * plain, abs=0.001)
        status = rt.calibration_session("abort", trigger="test")
        assert status["session"] is None and status["state"] == "ready"
        assert np.mean(rt.technician_scan(scans=2)["repeats"][0]["mean"]) == pytest.approx(plain, abs=0.001)
        with pytest.raises(CertificateError, match="photometric.scale"):
            rt.calibration_session("trial", {"photometric": {"scale": 9.0}}, trigger="test")


def test_technician_scans_journal_nothing_and_predict_like_a_measurement(tmp_path, tech_key):
    with _runtime(tmp_path, tech_key) as rt:
        white_reference(rt)
        rt.board.sim.place("PET", package=package_of(rt))
        scan = rt.technician_scan(scans=3, repeats=2, predict=True)
        assert rt.journal.last_seq() == 0 and len(scan["repeats"]) == 2
        assert np.asarray(scan["repeats"][0]["reflectance"]).shape == (3, 61)
        assert {r["prediction"]["class"] for r in scan["repeats"]} == {"PET"}
        rt.board.sim.place("empty")
        assert rt.technician_scan(predict=True)["repeats"][0]["prediction"]["verdict"] == "rejected"
        with pytest.raises(ValueError, match="scans = 0"):
            rt.technician_scan(scans=0)
