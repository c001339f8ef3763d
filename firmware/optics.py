"""What each optical head measures of a continuous reflectance spectrum.

The simulator (firmware) and the calibration toolchain (host) both need "this sample, seen by
that head": the simulator to make photocurrents, the toolchain to train a model for the head it
will run on. If they computed it differently, a model would be trained for an instrument that
does not exist, so both call the functions here (DESIGN.md, dependency rule).

A head channel ``c`` reports the reflectance weighted by everything in the light path::

    R_c = ∫ R(λ) w_c(λ) dλ / ∫ w_c(λ) dλ,   w_c(λ) = source(λ) · filter_c(λ) · responsivity(λ)

which is exactly the ratio a real head forms between a sample and a perfectly flat white
reference. Arrays: wavelengths ``(W,)``, spectra ``(N, W)``, head channels ``(C,)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# --- physical building blocks -----------------------------------------------------------

#: Second radiation constant c2 = h·c/k in nm·K (CODATA 2018: 1.438776877e-2 m·K).
_C2_NM_K = 1.438776877e7


def planck_relative(wl_nm: np.ndarray, temperature_k: float) -> np.ndarray:
    """Blackbody spectral radiance (photon counts per nm), normalised to 1 at its maximum over ``wl_nm``.

    A halogen lamp is a ~2900 K blackbody to within a few percent over 1.5–1.9 µm; the photon
    (not energy) form is used because a photodiode counts photons.
    """
    wl = np.asarray(wl_nm, dtype=float)
    photons = wl ** -4 / np.expm1(_C2_NM_K / (wl * temperature_k))
    return photons / photons.max()


def ingaas_responsivity(wl_nm: np.ndarray, cutoff_nm: float = 1700.0, peak_a_per_w: float = 0.95) -> np.ndarray:
    """Approximate InGaAs photodiode responsivity in A/W.

    Rises ~linearly with wavelength (quantum efficiency ≈ constant, R = QE·λ/1240) from a
    900 nm cut-on, then falls over ~80 nm at the cutoff: 1.7 µm for standard InGaAs (Plastic
    Scanner photodiode), ~2.1 µm for the extended InGaAs inside the Hamamatsu C13272-02.
    """
    wl = np.asarray(wl_nm, dtype=float)
    rise = np.clip((wl - 850.0) / (cutoff_nm - 100.0 - 850.0), 0.0, 1.0)
    fall = 1.0 / (1.0 + np.exp((wl - cutoff_nm) / 20.0))
    return peak_a_per_w * rise * fall


def gaussian(wl_nm: np.ndarray, centre_nm: float | np.ndarray, fwhm_nm: float | np.ndarray) -> np.ndarray:
    """Unit-height Gaussian; broadcasts ``centre`` (C, 1) against ``wl`` (W,) to (C, W)."""
    sigma = np.asarray(fwhm_nm, dtype=float) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    return np.exp(-0.5 * ((np.asarray(wl_nm, dtype=float) - centre_nm) / sigma) ** 2)


def resample(src_wl: np.ndarray, values: np.ndarray, dst_wl: np.ndarray, *, what: str = "spectrum") -> np.ndarray:
    """Linear interpolation of ``values`` (N, W) or (W,) from ``src_wl`` onto ``dst_wl``.

    Refuses to extrapolate: a spectrum that does not cover the target range cannot be used
    on that grid, and inventing the missing ends would hide that.
    """
    src = np.asarray(src_wl, dtype=float)
    dst = np.asarray(dst_wl, dtype=float)
    vals = np.asarray(values, dtype=float)
    if src.size < 2 or np.any(np.diff(src) <= 0):
        raise ValueError(f"{what}: source wavelengths must be strictly increasing")
    tol = 1e-6
    if dst.min() < src[0] - tol or dst.max() > src[-1] + tol:
        raise ValueError(f"{what}: covers {src[0]:.1f}–{src[-1]:.1f} nm, "
                         f"needed {dst.min():.1f}–{dst.max():.1f} nm")
    if vals.ndim == 1:
        return np.interp(dst, src, vals)
    return np.stack([np.interp(dst, src, row) for row in vals])


# --- heads ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LedBand:
    """One NIR LED: its nominal name, measured emission peak and FWHM (nm)."""

    nominal_nm: float
    peak_nm: float
    fwhm_nm: float


#: Plastic Scanner LED emission, measured by the Plastic Scanner project with an Avantes
#: AvaSpec-NIR256-2.0 (Plastic-Scanner/Data, 20230328_LEDspectra_avantes_spectrometer_dataset;
#: peak and full width at half maximum of the 3-point-smoothed emission, 9-point for the
#: 700–1100 nm file). Bands are approximated as Gaussians with these peaks and widths.
LED8_BANDS: tuple[LedBand, ...] = (
    LedBand(940, 938.0, 47.0),
    LedBand(1050, 1042.0, 94.0),
    LedBand(1200, 1188.0, 70.0),
    LedBand(1300, 1283.0, 77.0),
    LedBand(1450, 1453.0, 114.0),
    LedBand(1550, 1517.0, 111.0),
    LedBand(1650, 1630.0, 134.0),
    LedBand(1720, 1660.0, 196.0),
)

#: Hamamatsu C13272-02 MEMS Fabry–Pérot filter: tunable 1550–1850 nm, spectral resolution
#: (FWHM) about 18 nm in this range (Hamamatsu C13272-02 datasheet, "spectral resolution").
FPI_RANGE_NM = (1550.0, 1850.0)
FPI_STEP_NM = 5.0
FPI_FWHM_NM = 18.0
HALOGEN_TEMPERATURE_K = 2900.0

#: Source spectra are integrated on this fine grid so coarse inputs (Avantes ~4 nm steps)
#: and fine ones (NIST FT-NIR ~0.3 nm) give the same channel values.
_FINE_STEP_NM = 0.5


def fpi_grid(start_nm: float = FPI_RANGE_NM[0], stop_nm: float = FPI_RANGE_NM[1],
             step_nm: float = FPI_STEP_NM) -> np.ndarray:
    """The default FPI sweep: 1550–1850 nm in 5 nm steps (61 points), both ends included."""
    n = int(round((stop_nm - start_nm) / step_nm)) + 1
    return start_nm + step_nm * np.arange(n)


@dataclass(frozen=True)
class HeadOptics:
    """How one head weights a continuous spectrum into its channels.

    ``channel_weights(fine_wl)`` returns ``(C, W_fine)`` weights (source × filter ×
    responsivity); ``channels_nm`` are the wavelengths a reading reports for its channels.
    """

    name: str
    channels_nm: np.ndarray
    weight_fn: Callable[[np.ndarray, np.ndarray, float], np.ndarray] = field(repr=False)
    #: The wavelength range (nm) a continuous spectrum must cover for this head: where the
    #: weights of the outermost channels have fallen to a negligible level.
    source_range_nm: tuple[float, float] = (0.0, 0.0)

    def channel_weights(self, fine_wl: np.ndarray, wavelength_shift_nm: float = 0.0) -> np.ndarray:
        return self.weight_fn(np.asarray(fine_wl, dtype=float), self.channels_nm, wavelength_shift_nm)

    def measure(self, src_wl: np.ndarray, spectra: np.ndarray, *, wavelength_shift_nm: float = 0.0) -> np.ndarray:
        """Channel values ``(N, C)`` (or ``(C,)``) of spectra ``(N, W)`` on ``src_wl``.

        ``wavelength_shift_nm`` moves every channel's true centre by that much while the
        reading still reports ``channels_nm``: the wavelength error of an uncalibrated unit,
        and the axis jitter the toolchain trains with.
        """
        spectra = np.asarray(spectra, dtype=float)
        single = spectra.ndim == 1
        lo, hi = self.source_range_nm
        lo, hi = lo + min(wavelength_shift_nm, 0.0), hi + max(wavelength_shift_nm, 0.0)
        fine = np.arange(lo, hi + _FINE_STEP_NM / 2, _FINE_STEP_NM)
        src = resample(src_wl, np.atleast_2d(spectra), fine, what=f"spectrum for the {self.name} head")
        w = self.channel_weights(fine, wavelength_shift_nm)
        out = src @ w.T / w.sum(axis=1)
        return out[0] if single else out


def _fpi_weights(fine_wl: np.ndarray, centres: np.ndarray, shift: float) -> np.ndarray:
    common = planck_relative(fine_wl, HALOGEN_TEMPERATURE_K) * ingaas_responsivity(fine_wl, cutoff_nm=2100.0)
    return gaussian(fine_wl, (centres + shift)[:, None], FPI_FWHM_NM) * common


def _led8_weights(fine_wl: np.ndarray, centres: np.ndarray, shift: float) -> np.ndarray:
    peaks = np.array([b.peak_nm for b in LED8_BANDS])[:, None] + shift
    fwhm = np.array([b.fwhm_nm for b in LED8_BANDS])[:, None]
    return gaussian(fine_wl, peaks, fwhm) * ingaas_responsivity(fine_wl, cutoff_nm=1700.0)


def fpi_optics(grid_nm: np.ndarray | None = None) -> HeadOptics:
    """Optics of the ``fpi`` head on ``grid_nm`` (default `fpi_grid`), ±2 FWHM source margin."""
    grid = fpi_grid() if grid_nm is None else np.asarray(grid_nm, dtype=float)
    margin = 2.0 * FPI_FWHM_NM
    return HeadOptics("fpi", grid, _fpi_weights, (float(grid.min() - margin), float(grid.max() + margin)))


def led8_optics() -> HeadOptics:
    """Optics of the ``led8`` head; channels reported at the LEDs' nominal wavelengths.

    The source must reach ±1.5 FWHM around each LED's measured peak (about 870–1950 nm), so
    the Avantes spectra (1014–1901 nm) cannot stand in for it; the NIST FT-NIR spectra can.
    """
    nominal = np.array([b.nominal_nm for b in LED8_BANDS], dtype=float)
    lo = min(b.peak_nm - 1.5 * b.fwhm_nm for b in LED8_BANDS)
    hi = max(b.peak_nm + 1.5 * b.fwhm_nm for b in LED8_BANDS)
    return HeadOptics("led8", nominal, _led8_weights, (float(lo), float(hi)))


HEAD_OPTICS: dict[str, Callable[..., HeadOptics]] = {"fpi": fpi_optics, "led8": led8_optics}


def head_optics(name: str, **kwargs) -> HeadOptics:
    """Look up a head's optics by its config name (``fpi`` or ``led8``)."""
    try:
        return HEAD_OPTICS[name](**kwargs)
    except KeyError:
        raise ValueError(f"unknown optical head {name!r}; known: {', '.join(sorted(HEAD_OPTICS))}") from None
