"""Step 2: wavelength verification on the head's wavelength standard, and its correction.

Each band's centre is found on the unit (`bands.band_centres`) and compared with the standard's
reference value. Outside ±1 nm, the error is fitted as e(λ) = shift + stretch·(λ − 1700) (the
stretch only with bands far enough apart to tell it from noise), added to the correction already
in force, tried on the unit (for ``fpi`` the device re-expresses its coefficient table), and the
standard is measured again. The certificate judges the figures *as left*.

Sign convention: a unit that measures at λ + e when asked for λ shows a band that really sits at
B at the reported wavelength B − e, so the fitted error is minus the band errors.
"""
from __future__ import annotations

import copy

import numpy as np

from .bands import Band, band_centres, led8_shift
from .device import DeviceRequestError
from .run import Run, as_found, judged, not_made
from .standards import WAVELENGTH_STANDARDS

STEP = "wavelength"
PIVOT_NM = 1700.0
#: Bands must span at least this much for a stretch to be fitted (else shift only).
MIN_SPAN_FOR_STRETCH_NM = 150.0
#: Band errors further apart than this are not one axis error (a shift moves every band alike, a
#: stretch over these bands by far less): the reading is too noisy to correct from.
MAX_BAND_DISAGREEMENT_NM = 2.0


def fit_error(bands: list[Band]) -> tuple[float, float]:
    """(shift, stretch) of the unit's wavelength error from band errors (found − reference)."""
    pts = [(b.reference_nm, b.error_nm) for b in bands if b.error_nm is not None]
    if not pts:
        raise ValueError("no band found: the wavelength error cannot be estimated")
    ref = np.array([p[0] for p in pts])
    err = np.array([p[1] for p in pts])
    if ref.size >= 2 and ref.max() - ref.min() >= MIN_SPAN_FOR_STRETCH_NM:
        slope, intercept = np.polyfit(ref - PIVOT_NM, err, 1)
        return -float(intercept), -float(slope)
    return -float(err.mean()), 0.0


def _measure(run: Run, scans: int) -> np.ndarray:
    scan = run.device.scan(scans=scans)
    mean = scan["repeats"][0]["mean"]
    if mean is None:
        raise DeviceRequestError("the standard's reading has no reflectance (no white reference on the unit)")
    return np.asarray(mean, dtype=float)


def _record(run: Run, bands: list[Band], phase: str) -> bool:
    ok = True
    for b in bands:
        cid = f"wavelength.band_{b.reference_nm:g}"
        name = f"Band {b.reference_nm:g} nm: found − reference"
        if b.error_nm is None:
            if phase == "as found":
                run.add(as_found(cid, STEP, name, None, "wavelength.band", detail=b.detail))
            else:
                run.add(not_made(cid, STEP, name, b.detail, "wavelength.band"))
            ok = False
            continue
        detail = f"found at {b.found_nm:.2f} nm" + (f"; {b.detail}" if b.detail else "")
        if phase == "as found":
            run.add(as_found(cid, STEP, name, b.error_nm, "wavelength.band", detail=detail))
        else:
            ok &= bool(run.add(judged(cid, STEP, name, b.error_nm, "wavelength.band", detail=detail)).passed)
        ok &= b.error_nm is not None and abs(b.error_nm) <= 1.0
    return ok


def verify(run: Run, *, scans: int = 5, max_corrections: int = 2) -> bool:
    """Measure, correct if needed (up to ``max_corrections`` times), judge as left. True if passed."""
    std = WAVELENGTH_STANDARDS[run.head]
    run.use_standard(std.spec, std.name, std.kind, std.source, bands_nm=list(std.bands_nm))
    run.place(std.spec, f"Place the wavelength standard ({std.name}) on the port", None)
    history = []
    for attempt in range(max_corrections + 1):
        try:
            mean = _measure(run, scans)
        except DeviceRequestError as exc:
            for ref in std.bands_nm if run.head == "fpi" else ():
                run.add(not_made(f"wavelength.band_{ref:g}", STEP, f"Band {ref:g} nm: found − reference", str(exc),
                                 "wavelength.band"))
            if run.head == "led8":
                run.add(not_made("wavelength.led_shift", STEP, "LED peak shift left after correction", str(exc),
                                 "wavelength.band"))
            return False
        if run.head == "led8":
            return _verify_led8(run, mean, attempt, max_corrections, scans, history)
        bands = band_centres(run.wavelengths_nm, mean, std.bands_nm)
        within = all(b.error_nm is not None and abs(b.error_nm) <= 1.0 for b in bands)
        history.append({"corrections": copy.deepcopy(run.corrections["wavelength"]),
                        "bands": [{"reference_nm": b.reference_nm, "found_nm": b.found_nm} for b in bands]})
        run.figures["wavelength"] = history
        if attempt == 0:
            _record(run, bands, "as found")
        if within or attempt == max_corrections or all(b.error_nm is None for b in bands):
            return _record(run, bands, "as left")
        errors = [b.error_nm for b in bands if b.error_nm is not None]
        if len(errors) >= 2 and max(errors) - min(errors) > MAX_BAND_DISAGREEMENT_NM:
            run.log(f"wavelength: band errors disagree ({min(errors):+.2f} to {max(errors):+.2f} nm): that is noise "
                    f"or a damaged standard, not an axis error; no correction")
            for b in bands:
                if b.error_nm is not None:
                    b.detail = (f"band errors disagree by {max(errors) - min(errors):.2f} nm (limit "
                                f"{MAX_BAND_DISAGREEMENT_NM:g} nm): not corrected")
            return _record(run, bands, "as left")
        shift, stretch = fit_error(bands)
        new = copy.deepcopy(run.corrections)
        w = new["wavelength"]
        w.update(shift_nm=round(w["shift_nm"] + shift, 4), stretch=round(w["stretch"] + stretch, 6),
                 pivot_nm=PIVOT_NM, method="fpi-table")
        run.log(f"wavelength: error {shift:+.2f} nm (stretch {stretch:+.5f}); trying correction "
                f"shift {w['shift_nm']:+.3f} nm, stretch {w['stretch']:+.5f}")
        run.trial(new)
    return False


def _verify_led8(run: Run, mean: np.ndarray, attempt: int, max_corrections: int, scans: int,
                 history: list) -> bool:
    """led8: the LEDs' true shift is fitted through the axis correction in force; the figure judged is
    what that correction leaves (true shift − corrected shift)."""
    from firmware.calibration.certificate import Corrections
    from firmware.calibration.corrections import apply_reflectance
    from firmware.sim.standards import srm2035_spectrum
    wl = np.arange(700.0, 2600.0, 0.5)
    axis = Corrections.model_validate({"wavelength": run.corrections["wavelength"]})
    shift, misfit = led8_shift(mean, wl, srm2035_spectrum(wl),
                               correct=lambda m: apply_reflectance(axis, "led8", run.wavelengths_nm, m))
    left = shift - float(run.corrections["wavelength"]["shift_nm"])
    history.append({"corrections": copy.deepcopy(run.corrections["wavelength"]), "led_shift_nm": shift,
                    "misfit": misfit})
    run.figures["wavelength"] = history
    cid, name = "wavelength.led_shift", "LED peak shift left after correction"
    detail = f"LEDs {shift:+.2f} nm off nominal; relative misfit {misfit:.2e}"
    if attempt == 0:
        run.add(as_found(cid, STEP, name, left, "wavelength.band", detail=detail))
    if abs(left) <= 1.0 or attempt == max_corrections:
        return bool(run.add(judged(cid, STEP, name, left, "wavelength.band", detail=detail)).passed)
    new = copy.deepcopy(run.corrections)
    new["wavelength"].update(shift_nm=round(shift, 4), stretch=0.0, pivot_nm=PIVOT_NM, method="axis")
    run.log(f"wavelength: LEDs {shift:+.2f} nm off; trying axis correction {shift:+.3f} nm")
    run.trial(new)
    mean = _measure(run, scans)
    return _verify_led8(run, mean, attempt + 1, max_corrections, scans, history)
