"""The unit's calibration as the device holds it: the certificate in force, the corrections it
carries, and a technician's calibration session with its trial corrections.

The gate (`UnitCalibration.gate`) is what the measurement pipeline asks before every
measurement and what the idle state shows:

- a calibration session is open (trial corrections in force): "calibration in progress";
- the stored certificate cannot be used (corrupted file, signature no longer verifies): refused,
  whatever ``calibration.required`` says — a unit that was calibrated must not silently fall
  back to measuring uncorrected;
- the certificate failed, or is past its due date: refused with the failed checks / due date;
- no certificate: refused only with ``calibration.required = true``.

A session exists so the technician's tool can try a correction and verify it before signing:
trial corrections are unsigned, live only in memory (a restart drops them) and keep the unit
from measuring until a certificate is installed or the session is aborted.
"""
from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any, Callable, Mapping

from pydantic import ValidationError

from ..errors import CertificateError
from ..record import utc_now_rfc3339
from ..validation import describe
from .certificate import Certificate, Corrections, refusal, summary, verify_certificate
from .corrections import IDENTITY, check_applicable
from .store import CertificateStore


class UnitCalibration:
    """``config`` is a callable returning the current `DeviceConfig` (it changes on reload)."""

    def __init__(self, state_dir: str | Path, *, unit: str, head: str, config: Callable[[], Any]) -> None:
        self.store = CertificateStore(state_dir)
        self.unit = unit
        self.head = head
        self._config = config
        self._lock = threading.Lock()
        self._doc: dict[str, Any] | None = None
        self._cert: Certificate | None = None
        #: Why the stored certificate could not be used at start (None: fine or none stored).
        self.load_error: str | None = None
        self._session: dict[str, Any] | None = None

    # --- trust and loading -------------------------------------------------------------------

    def trusted_keys(self) -> list[str]:
        cfg = self._config()
        keys = cfg.calibration.trusted_keys
        return list(keys) if keys is not None else list(cfg.model.trusted_issuers or [])

    def verify(self, doc: Mapping[str, Any]) -> Certificate:
        """Schema, signature by a trusted technician, this unit and head, corrections for this head."""
        cert = verify_certificate(doc, self.trusted_keys(), unit=self.unit, head=self.head)
        check_applicable(cert.corrections, self.head)
        return cert

    def load(self) -> str | None:
        """Read the current certificate from the state directory; returns the problem, if any."""
        doc, why = self.store.current()
        if doc is not None:
            try:
                cert = self.verify(doc)
            except CertificateError as exc:
                why = f"stored certificate unusable: {exc}"
            else:
                with self._lock:
                    self._doc, self._cert = doc, cert
        self.load_error = why
        return why

    # --- views -------------------------------------------------------------------------------

    def current(self) -> dict[str, Any] | None:
        """The certificate document in force (the JSON twin), or None."""
        with self._lock:
            return dict(self._doc) if self._doc is not None else None

    def certificate(self) -> Certificate | None:
        with self._lock:
            return self._cert

    def corrections(self) -> Corrections:
        """Trial corrections during a session, else the certificate's, else none."""
        with self._lock:
            if self._session is not None:
                return self._session["corrections"]
            return self._cert.corrections if self._cert is not None else IDENTITY

    def gate(self, today: date | None = None) -> str | None:
        with self._lock:
            session, cert, load_error = self._session, self._cert, self.load_error
        if session is not None:
            return (f"calibration in progress since {session['since']} ({session['trigger']}): trial corrections "
                    f"are in force; measuring resumes when a certificate is installed or the session is aborted")
        if cert is None and load_error:
            return f"calibration: {load_error}; install a valid certificate (recalibrate the unit)"
        return refusal(cert, required=self._config().calibration.required, today=today)

    def status(self) -> dict[str, Any]:
        with self._lock:
            session = None if self._session is None else {
                "since": self._session["since"], "trigger": self._session["trigger"],
                "corrections": self._session["corrections"].model_dump()}
            cert = self._cert
        return {"certificate": summary(cert), "session": session, "corrections": self.corrections().model_dump(),
                "gate": self.gate(), "load_error": self.load_error, "required": self._config().calibration.required,
                "trusted_keys": len(self.trusted_keys()), "history": self.store.history()}

    # --- changes -----------------------------------------------------------------------------

    def install(self, doc: Mapping[str, Any]) -> tuple[Certificate, dict[str, Any] | None, Path]:
        """Verify, keep and put in force; returns ``(certificate, replaced summary, stored file)``.
        The session (if any) ends: the certificate's corrections replace the trial ones."""
        doc = dict(doc)
        cert = self.verify(doc)
        path = self.store.save(doc)
        with self._lock:
            old = self._cert
            self._doc, self._cert, self.load_error, self._session = doc, cert, None, None
        return cert, summary(old), path

    def begin(self, trigger: str) -> None:
        with self._lock:
            if self._session is None:
                base = self._cert.corrections if self._cert is not None else IDENTITY
                self._session = {"since": utc_now_rfc3339(), "trigger": trigger, "corrections": base}

    def trial(self, corrections: Mapping[str, Any] | Corrections, trigger: str) -> Corrections:
        """Validate and put trial corrections in force (opens a session if none is open)."""
        try:
            corr = corrections if isinstance(corrections, Corrections) else Corrections.model_validate(corrections)
        except ValidationError as exc:
            raise CertificateError(f"trial corrections: {describe(exc, limit=1)}") from None
        check_applicable(corr, self.head)
        self.begin(trigger)
        with self._lock:
            self._session["corrections"] = corr
        return corr

    def abort(self) -> bool:
        with self._lock:
            was, self._session = self._session is not None, None
        return was

    @property
    def in_session(self) -> bool:
        with self._lock:
            return self._session is not None
