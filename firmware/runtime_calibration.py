"""The calibration part of `firmware.runtime.DeviceRuntime` (mixed in, like `RuntimeModels`):
installing a certificate, the technician's calibration session and scans, and the corrections
the certificate carries put into the pipeline and the head.

What the page and the MQTT link call:

- ``install_calibration(certificate: dict) -> summary`` — verify (schema, consistency, signature
  by a trusted technician, this unit and head, corrections this head can apply), keep it in
  ``<state dir>/calibration/``, put it in force (corrections into the head and the pipeline),
  journal a ``calibration`` event, and settle the state: a failing or past-due certificate leaves
  the unit in ``needs_calibration`` with the reason. Refused → `CertificateError` naming the
  cause, ``calibration`` warning event, nothing changed.
- ``calibration_session(action, corrections=None)`` — ``begin``, ``trial`` (unsigned trial
  corrections, in memory only), ``abort``; the unit refuses to measure while a session is open.
- ``technician_scan(...)`` — see `firmware.calibration.scan`.
- ``calibration_status()`` — certificate summary, session, corrections in force, the gate.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np

from .calibration.corrections import IDENTITY, apply_reflectance, apply_to_head
from .calibration.scan import technician_scan as _technician_scan
from .calibration.unit import UnitCalibration
from .errors import CertificateError, PlastiNIRError

log = logging.getLogger(__name__)

SESSION_ACTIONS = ("begin", "trial", "abort")


class RuntimeCalibration:
    """Needs from the runtime: ``config``, ``state_dir``, ``identity``, ``head``, ``board``,
    ``measurement``, ``_event``."""

    def _init_calibration(self) -> None:
        self.unit_calibration = UnitCalibration(self.state_dir, unit=self.identity.unit, head=self.config.head.name,
                                                config=lambda: self.config)
        problem = self.unit_calibration.load()
        if problem:
            self._event("calibration", "error", "certificate-unusable", f"calibration certificate: {problem}", {})
        self.calibration = self.unit_calibration.current

    # --- the pipeline's hooks ------------------------------------------------------------------

    def _calibration_gate(self) -> str | None:
        return self.unit_calibration.gate()

    def _correct_reflectance(self, wavelengths_nm: np.ndarray, reflectance: np.ndarray) -> np.ndarray:
        corr = self.unit_calibration.corrections()
        if corr is IDENTITY:
            return reflectance
        return apply_reflectance(corr, self.head.name, wavelengths_nm, reflectance)

    def _apply_corrections_to_head(self) -> str | None:
        """After the board is (re)opened: the corrected coefficient table into the new head."""
        if not self.head.attached:
            return None
        corr = self.unit_calibration.corrections()
        label = (self.unit_calibration.current() or {}).get("calibration_id", "trial corrections")
        try:
            return apply_to_head(corr, self.head, label)
        except CertificateError as exc:  # the certificate verified when installed; the table changed since
            self._event("calibration", "error", "correction-failed", f"calibration correction not applied: {exc}", {})
            return None

    def _settle_idle(self) -> None:
        try:
            self.measurement.refresh()
        except PlastiNIRError as exc:
            log.warning("state not re-settled after a calibration change: %s", exc)

    # --- actions -------------------------------------------------------------------------------

    def install_calibration(self, certificate: Mapping[str, Any], *, trigger: str = "cli") -> dict[str, Any]:
        """See the module docstring. Returns ``{installed, replaced, stored_as, state, reason}``."""
        uc = self.unit_calibration
        try:
            cert = uc.verify(certificate)
            with self.measurement.head_lock:
                if self.head.attached:  # refuse a correction this head cannot drive before storing anything
                    inner = self.head.inner
                    previous = getattr(inner, "table", None)
                    apply_to_head(cert.corrections, self.head, cert.calibration_id)
                else:
                    inner = previous = None
                try:
                    cert, replaced, stored = uc.install(certificate)
                except BaseException:
                    if previous is not None:
                        inner.use_table(previous)
                    raise
        except PlastiNIRError as exc:
            self._event("calibration", "warning", "certificate-refused", f"calibration certificate refused: {exc}",
                        {"calibration_id": str(dict(certificate).get("calibration_id"))[:100]
                         if isinstance(certificate, Mapping) else None, "trigger": trigger})
            raise
        failed = cert.check_names(cert.failed_checks)
        message = (f"certificate {cert.calibration_id} installed: passed, due {cert.due.isoformat()}" if cert.passed
                   else f"certificate {cert.calibration_id} installed: FAILED ({', '.join(failed)}); the unit "
                        f"refuses to measure until recalibrated")
        self._event("calibration", "info" if cert.passed else "warning",
                    "certificate-installed" if cert.passed else "certificate-failing", message,
                    {"calibration_id": cert.calibration_id, "passed": cert.passed, "due": cert.due.isoformat(),
                     "failed_checks": list(cert.failed_checks), "replaced": replaced, "trigger": trigger,
                     "technician": cert.technician})
        self._settle_idle()
        snap = self.state.snapshot()
        return {"installed": uc.status()["certificate"], "replaced": replaced, "stored_as": str(stored),
                "state": snap["state"], "reason": snap["reason"]}

    def calibration_session(self, action: str, corrections: Mapping[str, Any] | None = None, *,
                            trigger: str = "cli") -> dict[str, Any]:
        uc = self.unit_calibration
        if action not in SESSION_ACTIONS:
            raise ValueError(f"calibration session action {action!r} is not one of {', '.join(SESSION_ACTIONS)}")
        if action == "begin":
            uc.begin(trigger)
            self._event("calibration", "info", "session-begin", f"calibration session started ({trigger})", {})
        elif action == "trial":
            if corrections is None:
                raise CertificateError("trial corrections missing")
            before = uc.corrections()
            with self.measurement.head_lock:
                corr = uc.trial(corrections, trigger)
                if self.head.attached:
                    try:
                        apply_to_head(corr, self.head, "trial corrections")
                    except CertificateError:
                        uc.trial(before, trigger)
                        apply_to_head(before, self.head, "trial corrections")
                        raise
        else:
            if uc.abort():
                with self.measurement.head_lock:
                    self._apply_corrections_to_head()
                self._event("calibration", "info", "session-abort", f"calibration session aborted ({trigger}); "
                                                                     f"the certificate's corrections are back", {})
        self._settle_idle()
        return self.calibration_status()

    def technician_scan(self, *, scans: int | None = None, repeats: int = 1, interval_s: float = 0.0,
                        predict: bool = False, trigger: str = "cli") -> dict[str, Any]:
        clock = self.board.clock if self.board is not None else None
        t0 = clock.monotonic() if clock is not None else None
        result = _technician_scan(self.measurement, scans=scans, repeats=repeats, interval_s=interval_s,
                                  predict=predict, trigger=trigger, **({"sleep": clock.sleep} if clock else {}))
        result["corrections"] = self.unit_calibration.corrections().model_dump()
        #: the board's own time for the scan (readings and waits): what it takes on a real unit
        result["physical_time_s"] = round(clock.monotonic() - t0, 3) if clock is not None else None
        return result

    def calibration_status(self) -> dict[str, Any]:
        """Certificate summary, session, corrections in force, gate — plus what the technician's
        tool needs to know about the unit (id, head, grid, sensor serial, state)."""
        status = self.unit_calibration.status()
        serial = None
        if self.head.attached:
            table = getattr(self.head.inner, "base_table", None)
            serial = getattr(table, "serial", None) or None
            wl = self.head.wavelengths_nm.tolist()
        else:
            wl = None
        snap = self.state.snapshot()
        status.update(unit=self.identity.unit, public_key=self.identity.public_key, head=self.head.name,
                      serial=serial, wavelengths_nm=wl, state=snap["state"], reason=snap["reason"],
                      model=self.model_info())
        return status
