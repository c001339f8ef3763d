"""TEST-ONLY helpers for calibration tests: signed ``plastinir.calibration/1`` certificates made
with throwaway keys (never committed), in the shape `nir-host calibrate-unit` writes."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from firmware.contracts import CERTIFICATE_SCHEMA
from firmware.record import utc_now_rfc3339
from firmware.signing import public_key_b64, sign_document


def certificate(unit: str, key, *, head: str = "fpi", failed: tuple[str, ...] = (), due: date | None = None,
                issued: datetime | None = None, corrections: dict | None = None, cid: str | None = None,
                **changes: Any) -> dict:
    """A signed certificate for ``unit``: a passing wavelength and noise check, plus a failing check
    for each id in ``failed``; ``changes`` are applied before signing."""
    issued = issued or datetime.now(timezone.utc)
    due = due or (issued.date() + timedelta(days=182))
    checks = [
        {"id": "wavelength.band_1730.47", "step": "wavelength", "name": "Band 1730.47 nm: found − reference",
         "phase": "as left", "value": 0.08, "unit": "nm", "low": -1.0, "high": 1.0, "limit": "±1 nm", "passed": True,
         "detail": ""},
        {"id": "photometric.noise_high_flux", "step": "photometric", "name": "Noise, high flux (white tile)",
         "phase": "as left", "value": 0.015, "unit": "mAU", "low": None, "high": 0.3, "limit": "≤ 0.3 mAU",
         "passed": True, "detail": ""},
    ] + [{"id": f, "step": "photometric", "name": f"Check {f}", "phase": "as left", "value": 9.0, "unit": "",
          "low": None, "high": 1.0, "limit": "≤ 1", "passed": False, "detail": "too high"} for f in failed]
    doc = {"schema": CERTIFICATE_SCHEMA, "calibration_id": cid or f"cal-{unit}-{issued:%Y%m%d}-test",
           "unit": unit, "head": head, "serial": "SIM-00000", "issued": utc_now_rfc3339(issued),
           "due": due.isoformat(), "technician": "test technician", "issuer_public_key": public_key_b64(key),
           "passed": not failed, "failed_checks": list(failed), "checks": checks, "standards": [],
           "corrections": corrections or {"photometric": {"scale": 1.0, "offset": 0.0},
                                          "wavelength": {"shift_nm": 0.0, "stretch": 0.0, "pivot_nm": 1700.0,
                                                         "method": "none"}},
           "model": None, "transfer": {}, "reference_set": {}, "environment": {}, "firmware": "0.1.0",
           "tool": "test"}
    doc.update(changes)
    return sign_document(doc, key)
