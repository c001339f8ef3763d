"""The standards a unit is calibrated with, their reference values, and every limit, with sources.

Limits follow the structure of USP <1119> (Near-Infrared Spectroscopy) instrument qualification:
wavelength uncertainty on a reference standard, photometric linearity on at least four
reflectance standards between 10 and 99 % (slope 1.00 ± 0.05, intercept 0.00 ± 0.05),
photometric noise at high flux (a ~99 % standard) and low flux (a ~10 % standard). Where a
figure is this instrument's own (noise in mAU for an 18 nm filter instrument, repeatability,
stray light, warm-up, transfer agreement), the reason is given with it.
"""
from __future__ import annotations

from dataclasses import dataclass

from firmware.sim.standards import SRM2035_BANDS_NM


@dataclass(frozen=True)
class Limit:
    low: float | None
    high: float | None
    unit: str
    text: str
    source: str

    def judge(self, value: float | None) -> bool:
        if value is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


LIMITS: dict[str, Limit] = {
    "warmup.temperature_span": Limit(None, 0.5, "°C", "≤ 0.5 °C over the warm-up readings",
                                     "this instrument: the white reference expires after 3 °C "
                                     "(references.max_temperature_change_c); stable means well inside that"),
    "warmup.signal_drift": Limit(None, 0.5, "%", "≤ 0.5 % white-signal change over the warm-up readings",
                                 "this instrument: a lamp still warming drifts by more than the 0.5 % that "
                                 "photometric accuracy allows"),
    "wavelength.band": Limit(-1.0, 1.0, "nm", "±1 nm", "issue 7; USP <1119> wavelength uncertainty, ±1 nm"),
    "photometric.linearity_slope": Limit(0.95, 1.05, "", "1.00 ± 0.05", "USP <1119> photometric linearity"),
    "photometric.linearity_intercept": Limit(-0.05, 0.05, "", "0.00 ± 0.05", "USP <1119> photometric linearity"),
    "photometric.noise_high_flux": Limit(None, 0.3, "mAU", "≤ 0.3 mAU RMS on the white tile",
                                         "USP <1119> high-flux noise test structure; limit for this instrument"),
    "photometric.noise_low_flux": Limit(None, 1.0, "mAU", "≤ 1.0 mAU RMS on the 10 % grey",
                                        "USP <1119> low-flux noise test structure; limit for this instrument"),
    "photometric.repeatability": Limit(None, 0.001, "", "≤ 0.001 reflectance (largest channel SD, 10 scans)",
                                       "this instrument: 0.1 % reflectance is a tenth of the smallest gain/offset "
                                       "change the models are trained to ignore"),
    "photometric.stray_light": Limit(None, 5.0, "%", "≤ 5 % of the white signal with the port on a light trap",
                                     "this instrument: half the 10 % at which a dark reference is refused "
                                     "(references.dark_max_fraction_of_white)"),
    "photometric.stray_residual": Limit(-0.005, 0.005, "", "light trap reads 0 ± 0.005 after correction",
                                        "this instrument: the dark reference must remove the stray light"),
    "transfer.agreement": Limit(0.95, None, "", "≥ 95 % of the reference items answered as the master does",
                                "this workflow: verdict, class and composition (within 2 × the combined "
                                "uncertainty, at least 2 units) must match the master's"),
}


@dataclass(frozen=True)
class WavelengthStandard:
    spec: str                 # the sample spec on the simulator (firmware.sim.standards)
    name: str
    kind: str
    bands_nm: tuple[float, ...]
    source: str


#: fpi (1550–1850 nm): none of NIST SRM 2035/2036's seven certified bands lies in this range. The
#: unit is verified on NIST's HDPE (FT-NIR, laser-referenced wavenumber axis; mds2-3809, the 0 wt %
#: PP blend end carried in the fpi package's library). Its band centres at the fpi head's resolution
#: are those the nominal fpi optics (firmware.optics, 18 nm FWHM) give with `bands.band_centres`;
#: tests/test_unitcal_bands.py recomputes them from the package. This is a secondary reference, not
#: a certified one: production use needs a certified standard with bands in 1550–1850 nm.
FPI_STANDARD = WavelengthStandard(
    "wavelength:pe", "High-density polyethylene wavelength reference (NIST FT-NIR spectrum)", "wavelength",
    (1730.47, 1763.64, 1817.07),
    "NIST, Li et al., data for 'Machine learning-enhanced near-infrared property prediction for improved "
    "polyolefin differentiation', https://datapub.nist.gov/od/id/mds2-3809 (pure HDPE, FT-NIR); band centres "
    "at the fpi head's 18 nm resolution derived by this tool")
#: led8 (LEDs 940–1720 nm, optics 870–1950 nm): SRM 2035/2036 rare-earth glass.
LED8_STANDARD = WavelengthStandard(
    "wavelength:srm2035", "NIST SRM 2035/2036-type rare-earth glass reflectance standard", "wavelength",
    SRM2035_BANDS_NM,
    "NIST SRM 2035 band positions (information values, peak method) as quoted by C. Burgess and J. Hammond, "
    "'Wavelength Standards for the Near-Infrared Spectral Region', Spectroscopy 22(4), 2007")
WAVELENGTH_STANDARDS = {"fpi": FPI_STANDARD, "led8": LED8_STANDARD}

#: Grey reflectance standards (nominal = certified value of a spectrally flat tile, as fractions).
LINEARITY_GREYS: tuple[float, ...] = (0.10, 0.20, 0.40, 0.60, 0.80, 0.99)
LOW_FLUX_GREY = 0.10
REPEATABILITY_GREY = 0.50
GREY_SOURCE = ("diffuse grey reflectance standards (sintered PTFE, carbon-doped), spectrally flat over "
               "1.0–2.0 µm; certified reflectance = nominal")
TRAP_SOURCE = "black light trap (cavity): reflectance 0"
WHITE_SOURCE = "the unit's own white tile (sintered PTFE, 0.99 assumed by the device)"
