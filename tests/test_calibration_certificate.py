"""The ``plastinir.calibration/1`` certificate as the device checks it, the refusal it causes, and
the corrections it carries (fpi table composition, led8 axis, photometric factor)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from calibration_support import certificate
from firmware.calibration.certificate import Corrections, refusal, validate_certificate, verify_certificate
from firmware.calibration.corrections import apply_reflectance, corrected_fpi_table
from firmware.errors import CertificateError
from firmware.heads.fpi_table import load_fpi_table, resolve_table_path
from firmware.optics import LED8_BANDS
from firmware.signing import generate_key, public_key_b64, sign_document

UNIT = "nir-0123456789ab"


@pytest.fixture(scope="module")
def key():
    return generate_key()


def test_a_signed_certificate_verifies_for_its_unit_and_head(key):
    cert = verify_certificate(certificate(UNIT, key), [public_key_b64(key)], unit=UNIT, head="fpi")
    assert cert.passed and cert.failed_checks == [] and refusal(cert, required=True) is None


@pytest.mark.parametrize("change, message", [
    ({"passed": False}, "passed = False contradicts the checks"),
    ({"failed_checks": ["photometric.noise_high_flux"]}, "do not list exactly the checks that failed"),
    ({"due": date(2020, 1, 1)}, "is not after the issue date"),
    ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ({"corrections": {"photometric": {"scale": 7.0, "offset": 0.0}}}, "corrections.photometric.scale"),
    ({"calibration_id": "../../etc/passwd"}, "calibration_id"),
    ({"checks": []}, "checks: List should have at least 1 item"),
])
def test_malformed_or_inconsistent_certificates_are_refused_with_the_field(key, change, message):
    with pytest.raises(CertificateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_certificate(certificate(UNIT, key, **change))


def test_signature_trust_unit_and_head_are_checked(key):
    doc = certificate(UNIT, key)
    trusted = [public_key_b64(key)]
    tampered = {**doc, "due": (date.fromisoformat(doc["due"]) + timedelta(days=3650)).isoformat()}
    with pytest.raises(CertificateError, match="signature does not verify"):
        verify_certificate(tampered, trusted)
    with pytest.raises(CertificateError, match="a key this unit does not trust"):
        verify_certificate(doc, [public_key_b64(generate_key())])
    with pytest.raises(CertificateError, match=f"is for unit {UNIT}, this is nir-ffffffffffff"):
        verify_certificate(doc, trusted, unit="nir-ffffffffffff")
    with pytest.raises(CertificateError, match="is for the fpi head, this unit has the led8 head"):
        verify_certificate(doc, trusted, head="led8")
    other = generate_key()  # re-signed by someone else but still naming the first issuer
    forged = sign_document({k: v for k, v in doc.items() if k != "signature"}, other)
    with pytest.raises(CertificateError, match="signature does not verify"):
        verify_certificate(forged, None)


def test_refusal_names_the_failed_checks_the_due_date_or_the_missing_certificate(key):
    failing = validate_certificate(certificate(UNIT, key, failed=("photometric.noise_low_flux",)))
    assert refusal(failing, required=False) == (
        f"calibration: calibration certificate failing or past due (certificate {failing.calibration_id} "
        f"failed: Check photometric.noise_low_flux)")
    old = datetime.now(timezone.utc) - timedelta(days=400)
    past = validate_certificate(certificate(UNIT, key, issued=old, due=old.date() + timedelta(days=182)))
    assert refusal(past, required=False).endswith(f"was due {past.due.isoformat()})")
    assert refusal(past, required=False, today=past.due) is None  # due on the day itself: still valid
    assert refusal(None, required=False) is None
    assert "no certificate installed and calibration.required = true" in refusal(None, required=True)


def test_the_corrected_fpi_table_tunes_lambda_where_the_plain_one_tunes_lambda_minus_the_error():
    base = load_fpi_table(resolve_table_path("sim-default"))
    corr = Corrections.model_validate({"wavelength": {"shift_nm": 6.0, "stretch": 0.002, "pivot_nm": 1700.0,
                                                      "method": "fpi-table"}})
    table = corrected_fpi_table(base, corr, "cal-x")
    wl = np.linspace(1550, 1850, 31)
    error = 6.0 + 0.002 * (wl - 1700.0)
    for temp in (10.0, 25.0, 40.0):
        np.testing.assert_allclose(table.voltage(wl, temp), base.voltage(wl - error, temp), rtol=0, atol=1e-9)
    assert "corrected by cal-x" in table.source
    assert corrected_fpi_table(base, Corrections(), "") is base


def test_photometric_and_led8_axis_corrections():
    corr = Corrections.model_validate({"photometric": {"scale": 1 / 1.2, "offset": 0.01}})
    np.testing.assert_allclose(apply_reflectance(corr, "fpi", np.array([1600.0, 1700.0]), np.array([[0.6, 1.2]])),
                               [[0.51, 1.01]])
    nominal = np.array([b.nominal_nm for b in LED8_BANDS])
    slope = 0.2 + 0.0008 * (nominal - 940.0)            # a reading linear in wavelength
    shifted = np.interp(nominal + 5.0, nominal, slope)   # LEDs 5 nm long: each reads 5 nm further on
    axis = Corrections.model_validate({"wavelength": {"shift_nm": 5.0, "method": "axis"}})
    out = apply_reflectance(axis, "led8", nominal, shifted[None, :])[0]
    # interpolated back; the outer LEDs hold the end values (no extrapolation beyond the LEDs)
    np.testing.assert_allclose(out[1:-1], slope[1:-1], atol=1e-12)
    assert out[0] == pytest.approx(shifted[0])
