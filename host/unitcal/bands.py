"""Band centres of a wavelength standard, and the led8 head's LED shift.

``fpi``: a band is an absorbance maximum. The head samples every 5 nm with an ≈18 nm wide
passband, so a band is 4–6 samples wide; its centre is found between samples by the maximum of
the cubic spline through the absorbance (−log10 R) near the highest sample. Measured on the
fpi optics with NIST's HDPE spectrum, the sub-step estimate moves by at most 0.11 nm as the
band slides across a sampling step (a parabola through three samples: 0.5 nm), well inside
the ±1 nm tolerance.

``led8``: eight LEDs 50–200 nm wide cannot resolve any band; the head's wavelength error is the
shift of its LED peaks. It is estimated by fitting the standard's reflectance, seen through the
led8 optics with every LED moved by s, to the reading (up to a scale, which the photometric
checks judge on their own).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import minimize_scalar

from firmware.optics import led8_optics


@dataclass
class Band:
    reference_nm: float
    found_nm: float | None
    detail: str = ""

    @property
    def error_nm(self) -> float | None:
        return None if self.found_nm is None else self.found_nm - self.reference_nm


def absorbance(reflectance: np.ndarray) -> np.ndarray:
    return -np.log10(np.clip(np.asarray(reflectance, dtype=float), 1e-6, None))


def band_centres(wavelengths_nm: np.ndarray, reflectance: np.ndarray, references_nm, *,
                 search_nm: float = 15.0) -> list[Band]:
    """Centre of each band ``(C,)`` → one `Band` per reference: the absorbance maximum (a sample
    higher than both neighbours) nearest to the reference within ± ``search_nm``, refined between
    samples; a reference without one is reported as not found, with the reason."""
    wl = np.asarray(wavelengths_nm, dtype=float)
    a = absorbance(reflectance)
    ok = np.isfinite(a)
    if ok.sum() < 4:
        return [Band(float(r), None, "no usable reflectance") for r in references_nm]
    wl_ok, a_ok = wl[ok], a[ok]
    spline = CubicSpline(wl_ok, a_ok)
    peaks = [j for j in range(1, a_ok.size - 1) if a_ok[j] > a_ok[j - 1] and a_ok[j] >= a_ok[j + 1]]
    out = []
    for ref in references_nm:
        near = [j for j in peaks if abs(wl_ok[j] - ref) <= search_nm]
        if not near:
            out.append(Band(float(ref), None, f"no absorbance maximum within {ref:g} ± {search_nm:g} nm"))
            continue
        j = min(near, key=lambda k: abs(wl_ok[k] - ref))
        fine = np.linspace(wl_ok[j - 1], wl_ok[j + 1], int(round((wl_ok[j + 1] - wl_ok[j - 1]) / 0.01)) + 1)
        out.append(Band(float(ref), float(fine[np.argmax(spline(fine))])))
    return out


def led8_shift(reading: np.ndarray, standard_wl: np.ndarray, standard_r: np.ndarray, *,
               max_shift_nm: float = 20.0, correct=None) -> tuple[float, float]:
    """LED shift s (nm) and relative RMS misfit of the best fit ``reading ≈ g · correct(optics(s))``.

    ``correct`` is the axis correction in force on the unit (`firmware.calibration.corrections`):
    the reading went through it, so the model does too, and s stays the LEDs' true shift.
    """
    optics = led8_optics()
    y = np.asarray(reading, dtype=float)

    def misfit(s: float) -> float:
        m = optics.measure(standard_wl, standard_r, wavelength_shift_nm=float(s))
        if correct is not None:
            m = correct(m)
        g = float(m @ y / (m @ m))
        return float(np.sqrt(np.mean((y - g * m) ** 2)) / np.mean(np.abs(y)))

    grid = np.arange(-max_shift_nm, max_shift_nm + 1e-9, 0.5)
    best = float(grid[int(np.argmin([misfit(s) for s in grid]))])
    res = minimize_scalar(misfit, bounds=(best - 0.5, best + 0.5), method="bounded", options={"xatol": 1e-3})
    return float(res.x), float(res.fun)
