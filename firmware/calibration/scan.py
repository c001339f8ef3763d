"""A technician's scan of a calibration standard: raw figures, reflectance and (optionally) the
model's answer, without journaling anything.

Calibration measures standards (white tile, grey tiles, a wavelength standard, transfer
standards) many times. Those are not inspection results: they must not get a seq, go to the
bureau or count in the unit's statistics, and they must still run on a unit that refuses to
measure because of its calibration. So this is an activity of its own (state ``calibrating``),
with the same head lock and state-machine rules as a measurement, returning figures only.

Per repeat it returns the head temperature, the mean net signal (counts over the gain factor:
what the lamp and detector deliver, for the warm-up check), every scan's reflectance (the
unit's corrections applied, as a measurement would see it) and, with ``predict``, the verdict
of the model in service on the mean spectrum, after the same quality checks a measurement runs.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import AdcSaturation, NotReady
from ..quality import assess, nanmean
from ..record import utc_now_rfc3339
from ..references import WHITE, reflectance, same_grid
from ..result_builder import outcome_fields, rejected_outcome
from ..signing import json_safe
from ..state import State

if TYPE_CHECKING:
    from ..measurement import Measurement

#: Limits of one request, so a typo cannot keep the head busy for an hour.
MAX_SCANS = 50
MAX_REPEATS = 50
MAX_INTERVAL_S = 600.0


def _round(a: np.ndarray, digits: int = 6) -> list:
    return json_safe(np.round(np.asarray(a, dtype=float), digits).tolist())


def technician_scan(m: "Measurement", *, scans: int | None = None, repeats: int = 1, interval_s: float = 0.0,
                    predict: bool = False, trigger: str = "technician",
                    sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Scan whatever lies on the port; see the module docstring. Refused (`NotReady`, `DeviceBusy`)
    while the unit is busy or in fault; a hardware failure leaves it in fault like a measurement."""
    scans = m.config.measurement.n_scans if scans is None else int(scans)
    if not 1 <= scans <= MAX_SCANS:
        raise ValueError(f"scans = {scans}: must be 1–{MAX_SCANS}")
    if not 1 <= int(repeats) <= MAX_REPEATS:
        raise ValueError(f"repeats = {repeats}: must be 1–{MAX_REPEATS}")
    if not 0.0 <= float(interval_s) <= MAX_INTERVAL_S:
        raise ValueError(f"interval_s = {interval_s}: must be 0–{MAX_INTERVAL_S:g} s")
    model = m.models.current() if predict else None
    if predict and model is None:
        raise NotReady("no model loaded: install a signed model package")
    cfg = m.config.measurement
    out: list[dict[str, Any]] = []
    with m.state.activity(State.CALIBRATING, trigger), m.head_lock:
        try:
            wl = m.head.wavelengths_nm
            white = m.references.latest(WHITE, m.head.name)
            white = white if white is not None and same_grid(white.wavelengths_nm, wl) else None
            stray = m.references.stray(m.head.name, wl)
            validity = m.white_validity()
            for i in range(int(repeats)):
                if i and interval_s > 0:
                    sleep(float(interval_s))
                out.append(_one(m, scans, white, stray, model, cfg))
                if m.watchdog is not None:
                    m.watchdog.ping()
        finally:
            m.head.reset_gain()
        m.settle_after_activity(None)
    return {"head": m.head.name, "wavelengths_nm": _round(wl, 4), "scans": scans,
            "white": white.summary(m.clock()) if white is not None else None,
            "dark": stray.summary(m.clock()) if stray is not None else None,
            "white_valid": validity.ok, "white_reason": validity.reason,
            "model": model.summary() if model is not None else None, "repeats": out}


def _one(m: "Measurement", scans: int, white, stray, model, cfg) -> dict[str, Any]:
    t = utc_now_rfc3339()
    m.head.reset_gain()
    while True:  # like a measurement: a saturated reading is taken again at the next lower gain
        try:
            readings = [m.head.acquire() for _ in range(scans)]
            break
        except AdcSaturation as exc:
            if not m.head.lower_gain():
                return {"time": t, "saturated": str(exc), "temperature_c": None, "net": None, "reflectance": None,
                        "mean": None, "prediction": None}
    temps = [r.temperature_c for r in readings]
    net = np.mean([r.net / float(r.gain.get("factor", 1.0) or 1.0) for r in readings], axis=0)
    entry: dict[str, Any] = {"time": t, "saturated": None,
                             "temperature_c": float(np.mean(temps)) if np.all(np.isfinite(temps)) else None,
                             "temperatures_c": _round(temps, 4), "net": _round(net, 3), "reflectance": None,
                             "mean": None, "prediction": None}
    if white is None:
        return entry
    refl = np.stack([reflectance(r, white, tile_reflectance=m.config.references.tile_reflectance, stray=stray)
                     for r in readings])
    if m.correct is not None:
        refl = m.correct(readings[0].wavelengths_nm, refl)
    mean = nanmean(refl, axis=0)
    entry.update(reflectance=_round(refl), mean=_round(mean))
    if model is not None:
        issue = assess(readings, refl, saturation_fraction=cfg.saturation_fraction,
                       scan_agreement=cfg.scan_agreement, empty_max_reflectance=cfg.empty_max_reflectance,
                       dark_max_reflectance=cfg.dark_max_reflectance)
        if issue is not None:
            outcome = rejected_outcome(issue.code, issue.detail)
        else:
            spectrum = m.to_grid(readings[0].wavelengths_nm, mean[None, :], model)[0]
            if not np.isfinite(spectrum).all():
                raise NotReady("white reference needed: no white signal on some points of the model grid")
            outcome = outcome_fields(model.model.predict(spectrum[None, :].astype(np.float32))[0])
        entry["prediction"] = json_safe({
            "verdict": outcome["verdict"], "reason": outcome.get("reason"),
            "class": outcome.get("class", outcome.get("class_")), "confidence": outcome.get("confidence"),
            "t2": outcome.get("t2"), "q": outcome.get("q"), "composition": outcome.get("composition") or {}})
    return entry

