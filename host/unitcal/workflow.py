"""The technician's workflow, end to end (issue 7):

1. warm-up check, dark and white references (`prepare`);
   the reference set measured *as found* (before anything is corrected);
2. wavelength verification on the head's standard, correction, verification again (`wavelength`);
3. photometric checks: linearity (and its correction), noise at high and low flux,
   repeatability, stray light (`photometric`);
4. transfer of the master model to the unit and agreement with the master (`transfer`);
5. the signed certificate — written (JSON, HTML, PDF), installed on the unit, read back
   (`certificate`).

The unit stays in a calibration session throughout (it refuses to measure while trial
corrections are in force); installing the certificate ends it and puts the final corrections
in force. A failing certificate is installed too: the unit then refuses to measure, with the
failed checks as its reason, until a passing calibration replaces it.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import certificate, photometric, prepare, transfer, wavelength
from .device import DeviceRequestError
from .run import Run, not_made
from .transfer import ReferenceItem


@dataclass
class Options:
    technician: str
    key: Any
    model: Path | None
    out_dir: Path
    interval_days: int = 182
    warmup_readings: int = 5
    warmup_interval_s: float = 30.0
    pdf: bool = True
    scans: int = 5


@dataclass
class Outcome:
    certificate: dict[str, Any]
    files: dict[str, str | None]
    installed: dict[str, Any] | None
    device_state: dict[str, Any] | None
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.certificate["passed"])

    def summary(self) -> dict[str, Any]:
        cert = self.certificate
        ref = cert.get("reference_set") or {}
        return {"calibration_id": cert["calibration_id"], "unit": cert["unit"], "passed": cert["passed"],
                "failed_checks": cert["failed_checks"], "due": cert["due"], "files": self.files,
                "corrections": cert["corrections"], "model": cert.get("model"),
                "agreement": {k.replace("reference_set_", ""): v.get("fraction") for k, v in ref.items()},
                "installed": self.installed, "device_state": self.device_state}


def calibrate(device, bench, items: list[ReferenceItem], options: Options, *,
              log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> Outcome:
    status = device.status()
    unit, head = status["unit"], status["head"]
    if not status.get("wavelengths_nm"):
        raise DeviceRequestError(f"unit {unit} reports no wavelength grid (its head is not attached: "
                                 f"{status.get('reason')}); calibration needs a working head — run its self-test")
    run = Run(device, bench, head, np.asarray(status["wavelengths_nm"], dtype=float),
              corrections=status["corrections"], log=log)
    log(f"calibrating unit {unit} ({head} head, serial {status.get('serial') or '—'}), state {status['state']}"
        + (f": {status['reason']}" if status.get("reason") else ""))
    device.session("begin")

    log("step 1: self-test, warm-up and references")
    if not prepare.self_test(run):
        for cid, step, name, key in planned_checks(head):
            run.add(not_made(cid, step, name, "the unit failed its self-test (see selftest)", key))
        return _certify(run, device, options, unit=unit, serial=status.get("serial"), log=log)
    prepare.warm_up(run, readings=options.warmup_readings, interval_s=options.warmup_interval_s)
    refs_ok = prepare.references(run)
    if items and refs_ok:
        try:
            found = transfer.measure_items(run, items, phase="as found", scans=options.scans)
        except DeviceRequestError as exc:
            log(f"reference set as found not measured: {exc}")
        else:
            agr = transfer.agreement(items, found)
            run.figures["reference_set_as_found"] = agr
            run.add(transfer.agreement_check("transfer.agreement_as_found",
                                              "Agreement with the master, as found", agr, judge=False))

    log("step 2: wavelength verification")
    wavelength.verify(run, scans=options.scans)

    log("step 3: photometric checks")
    photometric.run_all(run)

    log("step 4: transfer of the master model")
    if not items:
        log("  no reference items: transfer skipped")
    elif options.model is None:
        log("  no master model package: transfer skipped")
    elif run.failed:
        run.add(not_made("transfer.agreement", transfer.STEP, "Agreement with the master after transfer",
                                  "not attempted: earlier checks failed ("
                                  + ", ".join(c.id for c in run.failed[:5]) + ")", "transfer.agreement"))
    else:
        transfer.transfer(run, items, model_path=options.model, key=options.key, out_dir=options.out_dir / "model",
                          name=f"{_package_name(options.model)}-{unit}")

    return _certify(run, device, options, unit=unit, serial=status.get("serial"), log=log)


def planned_checks(head: str) -> list[tuple[str, str, str, str | None]]:
    """``(id, step, name, limit)`` of every check steps 1–4 make, for a unit that cannot run them."""
    from .standards import WAVELENGTH_STANDARDS
    bands = ([(f"wavelength.band_{b:g}", "wavelength", f"Band {b:g} nm: found − reference", "wavelength.band")
              for b in WAVELENGTH_STANDARDS[head].bands_nm] if head == "fpi"
             else [("wavelength.led_shift", "wavelength", "LED peak shift left after correction", "wavelength.band")])
    return [("warmup.temperature_span", "warm-up", "Head temperature span", "warmup.temperature_span"),
            ("warmup.signal_drift", "warm-up", "White signal drift", "warmup.signal_drift"),
            ("references.dark", "warm-up", "Dark reference taken", None),
            ("references.white", "warm-up", "White reference taken", None), *bands,
            ("photometric.linearity_slope", "photometric", "Linearity slope", "photometric.linearity_slope"),
            ("photometric.linearity_intercept", "photometric", "Linearity intercept",
             "photometric.linearity_intercept"),
            ("photometric.noise_high_flux", "photometric", "Noise, high flux (white tile)",
             "photometric.noise_high_flux"),
            ("photometric.noise_low_flux", "photometric", "Noise, low flux (10 % grey)", "photometric.noise_low_flux"),
            ("photometric.repeatability", "photometric", "Repeatability", "photometric.repeatability"),
            ("photometric.stray_light", "photometric", "Stray light (light trap / white tile)",
             "photometric.stray_light"),
            ("photometric.stray_residual", "photometric", "Light trap after stray-light correction",
             "photometric.stray_residual"),
            ("transfer.agreement", "transfer", "Agreement with the master after transfer", "transfer.agreement")]


def _certify(run: Run, device, options: Options, *, unit: str, serial: str | None,
             log: Callable[[str], None]) -> Outcome:
    log("step 5: certificate")
    device_info = _safe(device.device)
    doc = certificate.build(run, unit=unit, serial=serial, technician=options.technician,
                            key=options.key, interval_days=options.interval_days,
                            firmware=((device_info or {}).get("device") or {}).get("firmware"))
    files = certificate.write(doc, options.out_dir, pdf=options.pdf)
    log(f"  certificate {doc['calibration_id']}: {'PASSED' if doc['passed'] else 'FAILED'}"
        + ("" if doc["passed"] else f" ({', '.join(doc['failed_checks'])})"))
    log(f"  written: {files['json']}, {files['html']}" + (f", {files['pdf']}" if files["pdf"] else
                                                           f" (no PDF: {files['pdf_note']})"))
    installed = device.install_calibration(doc)
    stored = device.certificate()
    if not stored or stored.get("calibration_id") != doc["calibration_id"]:
        raise DeviceRequestError(f"unit {unit} accepted certificate {doc['calibration_id']} but shows "
                                 f"{(stored or {}).get('calibration_id')!r}")
    log(f"  installed on {unit}: state {installed.get('state')}"
        + (f" ({installed['reason']})" if installed.get("reason") else ""))
    return Outcome(doc, files, installed.get("installed"), {"state": installed.get("state"),
                                                            "reason": installed.get("reason")}, run.figures)


def _package_name(path: Path) -> str:
    from firmware.model_package import load_package
    return load_package(path, None).name


def _safe(fn):
    try:
        return fn()
    except DeviceRequestError:
        return None
