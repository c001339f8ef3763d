"""``[head]``: which optical head is mounted, and how each one acquires.

Settling and averaging defaults are chosen for a reading in about a second (fpi) or a tenth of
a second (led8) at a noise well below the spectral differences between polymers.
"""
from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from ..chips import ads1256_regs as R
from .base import Section

FPI_LIMITS_NM = (1550.0, 1850.0)  # Hamamatsu C13272-02 tunable range


def _check_pga(value: int) -> int:
    if value not in R.PGA_CODES:
        raise ValueError(f"must be one of the ADS1256 gains {list(R.PGA_STEPS)}")
    return value


def _check_rate(value: float) -> float:
    if value not in R.DRATE_CODES:
        raise ValueError(f"must be an ADS1256 data rate (Table 19): {sorted(R.DRATE_CODES)}")
    return value


class _Acquisition(Section):
    pga: int = Field(
        default=1,
        description="ADS1256 gain for the detector (a sample that saturates is read again at the next lower gain).")
    data_rate_sps: float = Field(default=1000, description="ADS1256 data rate for the detector (SPS).")
    conversions: int = Field(default=2, ge=1, le=1000, description="Conversions averaged per lit channel.")
    dark_conversions: int = Field(
        default=16, ge=1, le=10000,
        description="Conversions averaged for the dark reading.")
    saturation_fraction: float = Field(
        default=0.95, gt=0.5, le=1.0,
        description="A conversion at or beyond this fraction of the ADC full scale counts as saturated "
                    "(the amplifier rails just below the ADC's full scale at PGA 1).")
    min_signal_v: float = Field(
        default=3e-4, gt=0,
        description="Net detector signal (V) below which a channel counts as unlit. A working head always sees "
                    "its window's stray light (a few mV), so less means the lamp or LED is dead.")
    thermistor_r25_ohm: float = Field(
        default=10_000.0, gt=0,
        description="Head thermistor (NTC) resistance at 25 °C.")
    thermistor_beta_k: float = Field(default=3435.0, gt=0, description="Head thermistor B constant (25/85 °C).")
    thermistor_series_ohm: float = Field(
        default=10_000.0, gt=0, description="Fixed resistor from the 2.5 V reference to the thermistor node "
                                            "(the NTC goes from that node, hardware.thermistor_ain, to ground).")
    light_service_hours: float | None = Field(
        default=None, gt=0, le=1e6,
        description="Hours of light after which the light source is due for replacement (fpi: the halogen lamp's "
                    "rated life from its datasheet; led8: the LEDs'). Past it the Device page says 'replacement "
                    "due' and a maintenance event 'lamp-service-due' is journaled. Unset: no limit.")

    @field_validator("pga")
    @classmethod
    def _valid_pga(cls, value: int) -> int:
        return _check_pga(value)

    @field_validator("data_rate_sps")
    @classmethod
    def _valid_rate(cls, value: float) -> float:
        return _check_rate(value)


class FpiSection(_Acquisition):
    pga: int = Field(
        default=1,
        description="ADS1256 gain for the detector. At 1 the white tile reads ~18 % of full scale (15–18 % over "
                    "1550–1850 nm, nominal optics; ~37 % at PGA 2, ~74 % at PGA 4), so items up to ~5× the tile "
                    "read without clipping: glossy and translucent items reach ~3× the tile in the Avantes data. "
                    "A sample that saturates anyway is read again once at the next lower gain, if there is one, "
                    "else rejected as saturated.")
    unit_table: str | None = Field(
        default=None,
        description="The unit's FPI coefficient table: a name in units_dir or a path to a .toml. Unset: "
                    "config/units/<unit>.toml for a real board, config/units/sim-default.toml in the simulator.")
    units_dir: str = Field(default="config/units", description="Folder of per-unit coefficient tables.")
    start_nm: float = Field(default=1550.0, description="First wavelength of the sweep (nm).")
    stop_nm: float = Field(default=1850.0, description="Last wavelength of the sweep (nm), included.")
    step_nm: float = Field(default=5.0, gt=0, le=100, description="Sweep step (nm).")
    hv_gain: float = Field(
        default=4.0, gt=0, le=20,
        description="Gain of the high-voltage stage between DAC channel A and the filter.")
    settle_s: float = Field(
        default=2e-3, ge=0, le=1,
        description="Wait after each filter step before converting (MEMS mirror settling).")
    lamp_warmup_s: float = Field(
        default=0.5, ge=0, le=10,
        description="Wait after switching the lamp on (filament heating).")
    lamp_cooldown_s: float = Field(default=0.2, ge=0, le=10,
                                   description="Minimum lamp-off time before a dark reading (the filament glows on).")
    dark_sweep: bool = Field(default=False,
                             description="Sweep the filter for the dark reading too (only matters if ambient light leaks in).")

    @model_validator(mode="after")
    def _grid(self) -> "FpiSection":
        lo, hi = FPI_LIMITS_NM
        if not (lo <= self.start_nm < self.stop_nm <= hi):
            raise ValueError(f"sweep {self.start_nm:g}–{self.stop_nm:g} nm must lie inside the C13272-02's "
                             f"{lo:g}–{hi:g} nm and start below its end")
        return self


class Led8Section(_Acquisition):
    pga: int = Field(
        default=1,
        description="ADS1256 gain for the detector. At 1 (the lowest) the white tile reads ~36 % of full scale on "
                    "the brightest band, 1720 nm (~42 % at 0 °C), ~32 % at 1650 nm, ≤ 28 % on the others and ~1.6 % "
                    "at 940 nm (nominal LEDs): items up to ~2.6× the tile at 1720 nm, ~3× at 1650 nm and ≥ 3.4× "
                    "elsewhere read without clipping (at PGA 2 the 1720 nm band clips above ~1.3×). Brighter items "
                    "are rejected as saturated; more headroom needs a lower TIA gain or LED current on the head.")
    conversions: int = Field(default=8, ge=1, le=1000, description="Conversions averaged per LED.")
    dark_conversions: int = Field(default=8, ge=1, le=10000, description="Conversions averaged for the dark reading.")
    settle_s: float = Field(
        default=5e-3, ge=0, le=1,
        description="Wait after switching an LED on (LED and amplifier settling).")
    use_thermistor: bool = Field(
        default=False,
        description="The led8 head has a thermistor divider on hardware.thermistor_ain (like the fpi's); "
                    "false: the Raspberry Pi's SoC temperature stands in for the head temperature.")


class HeadSection(Section):
    name: str = Field(default="fpi", description="Mounted optical head: 'fpi' or 'led8' (registered heads).")
    fpi: FpiSection = Field(default_factory=FpiSection, description="Settings of the fpi head.")
    led8: Led8Section = Field(default_factory=Led8Section, description="Settings of the led8 head.")

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        from ..heads import HEADS  # registry filled by importing the heads package
        if value not in HEADS:
            raise ValueError(f"unknown optical head; registered: {', '.join(sorted(HEADS))}")
        return value
