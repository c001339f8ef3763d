"""Applying a unit's corrections: the photometric factor to reflectance, the wavelength
correction to the fpi coefficient table (or, for led8, to the channel axis).

The wavelength error model is e(λ) = shift + stretch · (λ − pivot): a unit asked for λ
measures at λ + e(λ). For the ``fpi`` head the cure is physical: the coefficient table is
re-expressed as V'(λ) = V(λ − e(λ)), so the filter goes where it should and the spectrum is
measured at the nominal wavelengths (no interpolation, no loss of resolution). The led8 LEDs
cannot be re-tuned, so their readings are taken as centred at λ + e(λ) and interpolated back
onto the nominal wavelengths (holding the end values for the few nm beyond the outer LEDs).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.polynomial import Polynomial

from ..errors import CertificateError, ConfigError
from ..heads.fpi_table import FpiTable
from .certificate import Corrections

IDENTITY = Corrections()


def wavelength_error_nm(corr: Corrections, wavelengths_nm: np.ndarray) -> np.ndarray:
    w = corr.wavelength
    return w.shift_nm + w.stretch * (np.asarray(wavelengths_nm, dtype=float) - w.pivot_nm)


def corrected_fpi_table(base: FpiTable, corr: Corrections, label: str = "") -> FpiTable:
    """V'(λ, T) = V(λ − e(λ), T) as a table of the same polynomial form (exact: e is linear in λ)."""
    w = corr.wavelength
    if w.shift_nm == 0.0 and w.stretch == 0.0:
        return base
    # λ − e(λ) − λ_ref = (1 − k)·x + d, with x = λ − λ_ref and d = −s + k·(pivot − λ_ref)
    k, d = w.stretch, -w.shift_nm + w.stretch * (w.pivot_nm - base.reference_wavelength_nm)
    inner = Polynomial([d, 1.0 - k])

    def compose(coeffs: tuple[float, ...]) -> tuple[float, ...]:
        if not coeffs:
            return coeffs
        out = Polynomial(list(coeffs))(inner).coef
        return tuple(float(c) for c in out)

    return replace(base, voltage_coeffs=compose(base.voltage_coeffs),
                   temperature_coeffs=compose(base.temperature_coeffs),
                   source=f"{base.source} corrected by {label or 'calibration'} (shift {w.shift_nm:+.3f} nm, "
                          f"stretch {w.stretch:+.5f})")


def apply_reflectance(corr: Corrections, head: str, wavelengths_nm: np.ndarray, reflectance: np.ndarray) -> np.ndarray:
    """Corrected reflectance ``(S, C)`` of ``(S, C)`` (or ``(C,)``): axis (led8) then photometric."""
    r = np.asarray(reflectance, dtype=float)
    wl = np.asarray(wavelengths_nm, dtype=float)
    if head == "led8" and corr.wavelength.method == "axis" and (corr.wavelength.shift_nm or corr.wavelength.stretch):
        true_wl = wl + wavelength_error_nm(corr, wl)
        rows = np.atleast_2d(r)
        r = np.stack([np.interp(wl, true_wl, row) for row in rows]).reshape(r.shape)
    p = corr.photometric
    if p.scale != 1.0 or p.offset != 0.0:
        r = p.scale * r + p.offset
    return r


def apply_to_head(corr: Corrections, head, label: str = "") -> str:
    """Put the wavelength correction into an attached head; returns what was done.

    `CertificateError` if the corrected table cannot be driven (tuning voltage out of reach), so
    a certificate whose correction the unit cannot apply is refused before it is stored.
    """
    inner = getattr(head, "inner", head)
    use_table = getattr(inner, "use_table", None)
    base = getattr(inner, "base_table", None)
    if use_table is None or base is None:
        return "no coefficient table on this head"
    method = corr.wavelength.method
    if method not in ("fpi-table", "none") and (corr.wavelength.shift_nm or corr.wavelength.stretch):
        raise CertificateError(f"wavelength correction method {method!r} does not fit the fpi head (use fpi-table)")
    table = corrected_fpi_table(base, corr, label)
    try:
        use_table(table)
    except ConfigError as exc:
        raise CertificateError(f"the wavelength correction cannot be applied: {exc}") from None
    return table.source


def check_applicable(corr: Corrections, head_name: str) -> None:
    """Refuse a correction whose method does not belong to the head."""
    w = corr.wavelength
    if not (w.shift_nm or w.stretch):
        return
    wanted = {"fpi": "fpi-table", "led8": "axis"}.get(head_name)
    if w.method != wanted:
        raise CertificateError(f"wavelength correction method {w.method!r} does not fit the {head_name} head "
                               f"(expected {wanted!r})")
