"""Simulated NIR reflectance of degradable polymers that have no real spectra here.

Only PLA has real spectra in the shared data (SOURCES.md). The toolchain must still handle a
technician adding PBAT, PBS, PHA, PCL, PPC or starch blends from their own measurements, so
the tests need plausible stand-ins: spectra built from published NIR band assignments, with
item-to-item variation. They exercise the code path (a new class, its degradable flag, its
limits); they are **never** shipped as classes in `models/`.

Band positions (nm) in the 1100–2000 nm window, from the standard assignment tables:

- C–H stretch first overtone of CH2 near 1725 and 1765 nm, of CH3 near 1695 nm, aromatic C–H
  near 1660–1685 nm; C–H combination bands near 1390–1420 nm; second overtones near 1190–1215 nm
  (Workman & Weyer, *Practical Guide and Spectral Atlas for Interpretive Near-Infrared
  Spectroscopy*, 2nd ed., CRC Press 2012, ch. 3 "Methyl and methylene", ch. 5 "Aromatic").
- Ester/carbonate C=O second overtone near 1900–1935 nm (ibid., ch. 8 "Carbonyls");
  O–H first overtone near 1450 nm and O–H combination near 1930 nm for starch
  (Osborne, Fearn & Hindle, *Practical NIR Spectroscopy with Applications in Food and Beverage
  Analysis*, Longman 1993, table of starch bands 1450/1930/2100 nm).
- Polymer-specific: PBAT has terephthalate aromatic C–H (~1660 nm) besides CH2; PBS and PCL
  are CH2-rich aliphatic polyesters (PCL has five CH2 per repeat, so the strongest 1725/1765 nm
  pair); PHA (PHB) has CH3 (1695 nm) next to CH/CH2; PPC has CH3 and a carbonate C=O
  (Siesler, Ozaki, Kawata & Heise (eds.), *Near-Infrared Spectroscopy*, Wiley-VCH 2002,
  ch. 11 "Polymers").

Relative band strengths are rough, chosen to reflect the groups per repeat unit; these are
stand-ins for tests, not reference spectra.
"""
from __future__ import annotations

import numpy as np

#: (centre nm, width nm FWHM, absorbance) per polymer.
BANDS: dict[str, list[tuple[float, float, float]]] = {
    "PBAT": [(1660, 30, 0.10), (1728, 35, 0.16), (1765, 30, 0.10), (1910, 40, 0.10), (1410, 40, 0.08),
             (1140, 30, 0.04)],
    "PBS": [(1728, 30, 0.20), (1765, 30, 0.16), (1915, 40, 0.12), (1415, 40, 0.09), (1215, 30, 0.05)],
    "PHA": [(1695, 28, 0.18), (1735, 30, 0.10), (1908, 40, 0.12), (1395, 35, 0.10), (1190, 30, 0.05)],
    "PCL": [(1725, 30, 0.26), (1765, 28, 0.22), (1920, 40, 0.08), (1412, 40, 0.12), (1212, 30, 0.06)],
    "PPC": [(1695, 28, 0.14), (1745, 35, 0.08), (1935, 40, 0.16), (1395, 35, 0.08), (1185, 30, 0.04)],
    "STARCH": [(1450, 80, 0.28), (1930, 70, 0.35), (1585, 60, 0.06), (1765, 40, 0.05), (1200, 40, 0.04)],
}


def _fwhm_gauss(wl, centre, fwhm):
    s = fwhm / (2 * np.sqrt(2 * np.log(2)))
    return np.exp(-0.5 * ((wl - centre) / s) ** 2)


def simulate(polymer: str, wavelengths_nm: np.ndarray, n_items: int, scans_per_item: int = 3,
             rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reflectance ``(n_items·scans, W)`` (fraction) of ``polymer`` and the item index of each row.

    Items differ in thickness (all band strengths × 0.8–1.25), band positions (±2 nm), baseline
    level (0.45–0.85) and tilt (scatter); scans of one item differ by detector noise only.
    """
    rng = rng or np.random.default_rng(0)
    wl = np.asarray(wavelengths_nm, dtype=float)
    rows, items = [], []
    for i in range(n_items):
        scale = rng.uniform(0.8, 1.25)
        shift = rng.uniform(-2, 2)
        level = rng.uniform(0.45, 0.85)
        tilt = rng.uniform(-0.1, 0.1)
        a = sum(scale * amp * _fwhm_gauss(wl, c + shift, w) for c, w, amp in BANDS[polymer])
        base = level * (1 + tilt * (wl - wl.mean()) / np.ptp(wl))
        clean = base * 10 ** (-a)
        for _ in range(scans_per_item):
            rows.append(clean + rng.normal(0, 0.002, wl.size))
            items.append(i)
    return np.array(rows), np.array(items)
