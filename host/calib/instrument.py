"""Training sets for a head: continuous spectra seen through that head's optics, with augmentation.

A model must be trained for the instrument it runs on, so every continuous spectrum goes
through `firmware.optics.HeadOptics.measure` (the code the device simulator uses too). The
augmentation draws what differs between units and sessions of one head type:

- wavelength-axis error: every channel's true centre moved by a shift (an uncalibrated or
  drifted unit; ±3 nm is the issue's invariance target, training draws a little wider);
- gain and offset ``R → a·R + b`` (lamp drift, gloss, stray light; SNV removes it exactly,
  drawing it anyway keeps the training set honest if the chain is changed);
- detector noise at a given signal-to-noise ratio.

Arrays: source spectra ``(N, W_src)`` on ``src_wl``; head values ``(N, C)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware.optics import HeadOptics


def measure_shifted(optics: HeadOptics, src_wl: np.ndarray, spectra: np.ndarray,
                    shifts_nm: np.ndarray, *, resolution_nm: float = 0.25) -> np.ndarray:
    """Channel values ``(N, C)`` with row ``i`` measured at wavelength shift ``shifts_nm[i]``.

    Shifts are rounded to ``resolution_nm`` so rows sharing a shift are measured together.
    """
    spectra = np.atleast_2d(np.asarray(spectra, dtype=float))
    shifts = np.round(np.asarray(shifts_nm, dtype=float) / resolution_nm) * resolution_nm
    out = np.empty((len(spectra), optics.channels_nm.size))
    for s in np.unique(shifts):
        rows = shifts == s
        out[rows] = optics.measure(src_wl, spectra[rows], wavelength_shift_nm=float(s))
    return out


@dataclass(frozen=True)
class Augmentation:
    """How many copies of each spectrum to draw, and how far each nuisance may go."""

    copies: int = 8
    max_shift_nm: float = 4.0
    gain: tuple[float, float] = (0.5, 2.0)
    offset: tuple[float, float] = (-0.1, 0.1)
    snr: float = 1000.0


def add_noise(values: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with standard deviation ``mean(|R|) / snr`` per spectrum (``snr=inf``: none)."""
    if not np.isfinite(snr):
        return values
    scale = np.abs(values).mean(axis=1, keepdims=True) / snr
    return values + rng.normal(size=values.shape) * scale


def augment(optics: HeadOptics, src_wl: np.ndarray, spectra: np.ndarray, aug: Augmentation,
            rng: np.random.Generator, *, include_nominal: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``aug.copies`` measured versions of each spectrum; returns ``(values, source_row)``.

    ``source_row`` maps every output row to its input row, so labels and groups follow the
    copies (a copy of an item stays in that item's group). With ``include_nominal`` the first
    copy of each spectrum is the unshifted, noise-free measurement.
    """
    n = len(spectra)
    rows = np.tile(np.arange(n), aug.copies)
    shifts = rng.uniform(-aug.max_shift_nm, aug.max_shift_nm, rows.size)
    gains = np.exp(rng.uniform(np.log(aug.gain[0]), np.log(aug.gain[1]), rows.size))[:, None]
    offsets = rng.uniform(aug.offset[0], aug.offset[1], rows.size)[:, None]
    if include_nominal:
        shifts[:n] = 0.0
        gains[:n] = 1.0
        offsets[:n] = 0.0
    values = measure_shifted(optics, src_wl, spectra[rows], shifts)
    noisy = add_noise(values, aug.snr, rng)
    if include_nominal:
        noisy[:n] = values[:n]
    return gains * noisy + offsets, rows
