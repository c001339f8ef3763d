"""The calibration certificate ``plastinir.calibration/1``: its validated model and its checks.

``nir-host calibrate-unit`` writes and signs it; the device checks it before it believes it
(`validate_certificate`, `verify_certificate`) and the bureau checks it when the retained
``<p>/<unit>/calibration`` message arrives. The JSON document is the certificate (the HTML is a
rendering of it), so every figure, limit and verdict is in it:

``schema, calibration_id, unit, head, serial, issued, due, technician, issuer_public_key,
passed, failed_checks, checks[{id, step, name, phase, value, unit, low, high, limit, passed,
detail}], standards[{id, name, kind, source, values}], corrections{photometric{scale, offset},
wavelength{shift_nm, stretch, pivot_nm, method}}, model{name, version, sha256} | null, transfer,
reference_set, environment, firmware, tool, signature``.

The device does not take ``passed`` on trust: it must agree with the checks (every failed check
listed in ``failed_checks``, ``passed`` only if none failed), or the certificate is refused as
inconsistent. Corrections are bounded to what a real unit can need, so a typo cannot make a
unit report nonsense.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..contracts import CERTIFICATE_SCHEMA, rejection_reason
from ..errors import CertificateError, SignatureError
from ..signing import public_key_from_b64, verify_document
from ..validation import describe

#: A certificate id becomes a file name on the device: keep it to safe characters.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
#: The pivot of the wavelength stretch (nm): the middle of the fpi head's range.
DEFAULT_PIVOT_NM = 1700.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class PhotometricCorrection(_Model):
    """R_corrected = scale · R + offset, applied to every reflectance the unit computes."""

    scale: float = Field(default=1.0, gt=0.5, lt=2.0, allow_inf_nan=False)
    offset: float = Field(default=0.0, ge=-0.2, le=0.2, allow_inf_nan=False)


class WavelengthCorrection(_Model):
    """The unit's wavelength error e(λ) = shift + stretch · (λ − pivot), corrected by the device.

    ``fpi-table``: the unit's coefficient table is re-expressed so that asking for λ tunes the
    filter to where the uncorrected table would have sent λ − e(λ). ``axis``: channels are read
    as centred at λ + e(λ) and interpolated back onto the nominal wavelengths (led8).
    """

    shift_nm: float = Field(default=0.0, ge=-20.0, le=20.0, allow_inf_nan=False)
    stretch: float = Field(default=0.0, ge=-0.05, le=0.05, allow_inf_nan=False)
    pivot_nm: float = Field(default=DEFAULT_PIVOT_NM, gt=0, allow_inf_nan=False)
    method: Literal["fpi-table", "axis", "none"] = "none"


class Corrections(_Model):
    photometric: PhotometricCorrection = Field(default_factory=PhotometricCorrection)
    wavelength: WavelengthCorrection = Field(default_factory=WavelengthCorrection)

    @property
    def is_identity(self) -> bool:
        p, w = self.photometric, self.wavelength
        return p.scale == 1.0 and p.offset == 0.0 and w.shift_nm == 0.0 and w.stretch == 0.0


class CheckResult(_Model):
    """One figure with its limit and verdict (``passed`` None: informative, not judged)."""

    id: str = Field(min_length=1, max_length=100)
    step: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    phase: Literal["as found", "as left", "result"] = "result"
    value: Optional[float] = Field(default=None, allow_inf_nan=False)
    unit: str = Field(default="", max_length=20)
    low: Optional[float] = Field(default=None, allow_inf_nan=False)
    high: Optional[float] = Field(default=None, allow_inf_nan=False)
    limit: str = Field(default="", max_length=200)
    passed: Optional[bool] = None
    detail: str = Field(default="", max_length=2000)


class StandardUsed(_Model):
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=300)
    kind: str = Field(min_length=1, max_length=40)
    source: str = Field(default="", max_length=1000)
    values: dict[str, Any] = Field(default_factory=dict)


class ModelRef(_Model):
    name: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=100)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Certificate(_Model):
    schema_: Literal["plastinir.calibration/1"] = Field(alias="schema")
    calibration_id: str = Field(pattern=ID_PATTERN)
    unit: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    head: Literal["fpi", "led8"]
    serial: Optional[str] = Field(default=None, max_length=100)
    issued: datetime
    due: date
    technician: str = Field(min_length=1, max_length=200)
    issuer_public_key: str
    passed: bool
    failed_checks: list[str] = Field(default_factory=list)
    checks: list[CheckResult] = Field(min_length=1)
    standards: list[StandardUsed] = Field(default_factory=list)
    corrections: Corrections = Field(default_factory=Corrections)
    model: Optional[ModelRef] = None
    transfer: dict[str, Any] = Field(default_factory=dict)
    reference_set: dict[str, Any] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)
    firmware: Optional[str] = Field(default=None, max_length=100)
    tool: Optional[str] = Field(default=None, max_length=200)
    signature: Optional[str] = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> "Certificate":
        ids = [c.id for c in self.checks]
        if len(set(ids)) != len(ids):
            raise ValueError("checks repeat an id")
        failed = [c.id for c in self.checks if c.passed is False]
        if sorted(failed) != sorted(self.failed_checks):
            raise ValueError(f"failed_checks {sorted(self.failed_checks)} do not list exactly the checks that "
                             f"failed {sorted(failed)}")
        if self.passed != (not failed):
            raise ValueError(f"passed = {self.passed} contradicts the checks ({len(failed)} failed)")
        if self.due <= self.issued.date():
            raise ValueError(f"due {self.due} is not after the issue date {self.issued.date()}")
        if self.issued.tzinfo is None:
            raise ValueError("issued must carry its time zone (UTC, RFC 3339 with Z)")
        try:
            public_key_from_b64(self.issuer_public_key)
        except SignatureError as exc:
            raise ValueError(f"issuer_public_key: {exc}") from None
        return self

    def check_names(self, ids: list[str]) -> list[str]:
        names = {c.id: c.name for c in self.checks}
        return [names.get(i, i) for i in ids]


def validate_certificate(doc: Any) -> Certificate:
    """The document as a `Certificate`, or `CertificateError` naming every broken field (up to six)."""
    if not isinstance(doc, Mapping):
        raise CertificateError(f"a certificate is a JSON object, got {type(doc).__name__}")
    if doc.get("schema") != CERTIFICATE_SCHEMA:
        raise CertificateError(f"schema {doc.get('schema')!r} is not {CERTIFICATE_SCHEMA!r}")
    try:
        return Certificate.model_validate(dict(doc))
    except ValidationError as exc:
        raise CertificateError(f"certificate {doc.get('calibration_id', '?')!r} is not a valid "
                               f"{CERTIFICATE_SCHEMA}: {describe(exc, limit=6)}") from None


def verify_certificate(doc: Mapping[str, Any], trusted_keys: list[str] | None, *, unit: str | None = None,
                       head: str | None = None) -> Certificate:
    """Validate, check the signature (by its ``issuer_public_key``, which must be in
    ``trusted_keys`` unless that is None) and that it is for ``unit``/``head``."""
    cert = validate_certificate(doc)
    if trusted_keys is not None and cert.issuer_public_key not in trusted_keys:
        raise CertificateError(f"certificate {cert.calibration_id} is signed by {cert.issuer_public_key[:12]}…, "
                               f"a key this unit does not trust (calibration.trusted_keys)")
    try:
        verify_document(dict(doc), cert.issuer_public_key)
    except SignatureError as exc:
        raise CertificateError(f"certificate {cert.calibration_id}: {exc}") from None
    if unit is not None and cert.unit != unit:
        raise CertificateError(f"certificate {cert.calibration_id} is for unit {cert.unit}, this is {unit}")
    if head is not None and cert.head != head:
        raise CertificateError(f"certificate {cert.calibration_id} is for the {cert.head} head, this unit has "
                               f"the {head} head")
    return cert


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


def refusal(cert: Certificate | None, *, required: bool, today: date | None = None) -> str | None:
    """Why this certificate stops the unit from measuring (the state's reason), or None."""
    if cert is None:
        if required:
            return rejection_reason("calibration", "no certificate installed and calibration.required = true")
        return None
    if not cert.passed:
        names = cert.check_names(cert.failed_checks)
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        return rejection_reason("calibration", f"certificate {cert.calibration_id} failed: {shown}")
    today = today or today_utc()
    if cert.due < today:
        return rejection_reason("calibration", f"certificate {cert.calibration_id} was due {cert.due.isoformat()}")
    return None


def summary(cert: Certificate | None, today: date | None = None) -> dict[str, Any] | None:
    if cert is None:
        return None
    today = today or today_utc()
    return {"id": cert.calibration_id, "issued": cert.issued.isoformat().replace("+00:00", "Z"),
            "due": cert.due.isoformat(), "overdue": cert.due < today, "passed": cert.passed,
            "failed_checks": list(cert.failed_checks), "technician": cert.technician,
            "corrections": cert.corrections.model_dump()}
