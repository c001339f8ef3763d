"""Calibration standards the simulated port can hold: grey tiles, a light trap, wavelength standards.

They are what a technician puts on a unit during calibration (``nir-host calibrate-unit``),
registered as sample specs so the CLI, the runtime and the tests name them the same way:

- ``grey:PCT`` — a diffuse grey reflectance standard of PCT % (2–99), spectrally flat (sintered
  PTFE tiles doped with carbon are flat to ±1–2 % over 1.0–2.0 µm, the way Spectralon-type grey
  standards are certified). They are *not* the unit's own white tile, so the unit's gain error
  shows on them: they are what linearity is judged on.
- ``trap`` — a black light trap (cavity, nothing returns): the port covered for the dark
  (stray-light) reference and the stray-light check.
- ``wavelength:srm2035`` — a rare-earth glass reflectance standard of the NIST SRM 2035/2036 type:
  a white backing seen through the glass, with absorption bands at NIST's band positions (see
  `SRM2035_BANDS_NM`). It covers the led8 head; none of its bands lies in 1550–1850 nm.
- ``wavelength:pe`` — the fpi head's wavelength standard: NIST's FT-NIR spectrum of pure HDPE
  (the 0 % PP end of the HDPE/PP blend series, mds2-3809, carried in the fpi model package's
  training library). FT-NIR spectrometers reference their axis to a laser, so the CH₂ overtone
  bands near 1730, 1765 and 1817 nm sit where the material puts them. Needs the fpi package.
"""
from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from ..errors import SampleSourceError
from .samples import FLAT_RANGE_NM, FlatSource, SampleSource, SpectrumSource, register_source

#: NIST SRM 2035 (NIR wavelength standard, rare-earth oxide glass; SRM 2036 is the same glass with a
#: white backing, for reflectance): band positions in nm, NIST's "information values" by the peak
#: method, as quoted in C. Burgess and J. Hammond, "Wavelength Standards for the Near-Infrared
#: Spectral Region", Spectroscopy 22(4), 2007 (Table IV, bracketed NIST values).
SRM2035_BANDS_NM: tuple[float, ...] = (975.8, 1075.7, 1151.7, 1222.5, 1366.8, 1469.4, 1945.7)
#: Width and depth of the simulated bands. NOT certified: chosen so each band is a clear,
#: well-separated dip for the led8 optics (rare-earth 4f bands in glass are 10–30 nm wide).
SRM2035_FWHM_NM = 20.0
SRM2035_DEPTH = 0.35
SRM2035_BACKING = 0.90


@register_source("grey", help="grey:PCT  diffuse grey reflectance standard, PCT % (2–99), spectrally flat",
                 takes_argument=True)
def _grey(arg: str | None, package: Any) -> SampleSource:
    try:
        pct = float(arg or "")
    except ValueError:
        raise SampleSourceError(f"grey standard {arg!r}: PCT must be a number (e.g. grey:10)") from None
    if not 2.0 <= pct <= 99.0:
        raise SampleSourceError(f"grey standard {pct:g} %: grey standards run from 2 to 99 %")
    return FlatSource(f"grey:{pct:g}", pct / 100.0)


@register_source("trap", help="trap  black light trap: nothing comes back (dark reference, stray-light check)")
def _trap(arg: str | None, package: Any) -> SampleSource:
    return FlatSource("trap", 0.0)


def srm2035_spectrum(wavelengths_nm: np.ndarray) -> np.ndarray:
    """Reflectance of the simulated SRM 2035/2036-type standard: backing × Π (1 − depth·band)."""
    wl = np.asarray(wavelengths_nm, dtype=float)
    sigma = SRM2035_FWHM_NM / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    r = np.full(wl.shape, SRM2035_BACKING)
    for centre in SRM2035_BANDS_NM:
        r = r * (1.0 - SRM2035_DEPTH * np.exp(-0.5 * ((wl - centre) / sigma) ** 2))
    return r


def nist_hdpe_spectrum(package: Any) -> tuple[np.ndarray, np.ndarray]:
    """NIST's pure-HDPE FT-NIR reflectance (fraction) from the fpi package's library: the mean of the
    replicates of the 0 wt % PP blend end. Returns ``(wavelengths (W,), reflectance (W,))``."""
    blob = (getattr(package, "files", None) or {}).get("library.npz") if package is not None else None
    if not blob:
        raise SampleSourceError("the fpi wavelength standard (wavelength:pe) is NIST's HDPE spectrum, carried in "
                                "the fpi model package's library: pass the package (--model PKG)")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as lib:
            wl = lib["pp_wt_pct_wavelengths_nm"].astype(float)
            values = lib["pp_wt_pct_values"].astype(float)
            y = lib["pp_wt_pct_y"].astype(float)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise SampleSourceError(f"package library has no HDPE/PP blend spectra for the fpi wavelength "
                                f"standard: {exc}") from None
    rows = values[y == 0.0]
    if rows.size == 0:
        raise SampleSourceError("package library has no 0 wt % PP (pure HDPE) spectrum")
    mean = rows.mean(axis=0)
    return wl, (mean / 100.0 if np.nanmedian(mean) > 1.5 else mean)


@register_source("wavelength", help="wavelength:NAME  wavelength standard: srm2035 (rare-earth glass, led8) or "
                                    "pe (NIST HDPE, fpi; needs the fpi package)", takes_argument=True)
def _wavelength(arg: str | None, package: Any) -> SampleSource:
    name = (arg or "").strip().lower()
    if name == "srm2035":
        wl = np.arange(FLAT_RANGE_NM[0], FLAT_RANGE_NM[1] + 0.25, 0.5)
        return SpectrumSource("wavelength:srm2035", wl, srm2035_spectrum(wl))
    if name == "pe":
        wl, r = nist_hdpe_spectrum(package)
        return SpectrumSource("wavelength:pe", wl, r)
    raise SampleSourceError(f"wavelength standard {arg!r}: known are srm2035 (led8) and pe (fpi)")
