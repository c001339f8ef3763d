"""``[sim]``: the simulated board's environment, per-unit errors and injected faults.

Only read when the backend is ``sim``. The per-unit errors are what unit calibration
(``nir-host calibrate-unit``) must find and correct: ``wavelength_error_nm`` shifts the real
passbands against the nominal ones, ``gain_error`` makes the unit's own white tile darker than
the 0.99 the device assumes.
"""
from __future__ import annotations

from pydantic import Field, field_validator

from .base import Section


class SimSection(Section):
    seed: int | None = Field(
        default=None,
        description="Random seed for noise, sample variation and motion; unset: fresh.")
    sample: str = Field(
        default="empty",
        description="What lies on the port at start: white, black, empty, grey:PCT, trap, csv:PATH:ROW. A class "
                    "name (pet, pla, …) needs the model package, which the board does not have at bring-up: "
                    "use --sample of measure/reference/acquire or a sim-control 'place' request.")
    temperature_c: float = Field(
        default=25.0, ge=-20, le=70,
        description="Head and ambient temperature at start (°C).")
    drift_c_per_min: float = Field(
        default=0.0, ge=-5, le=5,
        description="Ambient temperature drift (°C per simulated minute).")
    wavelength_error_nm: float = Field(
        default=0.0, ge=-20, le=20,
        description="The unit's wavelength error: the FPI transmits λ+e when asked for λ; led8 LED peaks sit e nm off.")
    gain_error: float = Field(
        default=0.0, gt=-0.5, lt=1.0,
        description="The unit reports (1+g)× the true reflectance: its own white tile reflects 0.99/(1+g), "
                    "while the device assumes 0.99, so the white reference does not cancel it.")
    stray_reflectance: float = Field(default=0.01, ge=0, le=0.2,
                                     description="Stray light inside the head, as an added flat reflectance.")
    noise_scale: float = Field(
        default=1.0, ge=0, le=100,
        description="Multiplier of every noise source (0: noiseless).")
    time_scale: float = Field(default=0.0, ge=0, le=10,
                              description="Fraction of each simulated wait really slept (0: never wait; 1: real time).")
    faults: list[str] = Field(
        default_factory=list,
        description="Faults active from power-up (see firmware/sim/faults.py).")
    control: bool = Field(
        default=False,
        description="nir-device run watches <state dir>/sim-control/ for requests from a test harness (inject or "
                    "clear a fault, press the button, place a sample; firmware/sim/control.py). For soak tests; "
                    "refused on real hardware.")
    press_every_s: float = Field(
        default=0.0, ge=0, le=3600,
        description="nir-device run presses the simulated trigger button every this many seconds (0: never): a "
                    "unit measuring continuously, for soak tests. Refused on real hardware.")

    @field_validator("faults")
    @classmethod
    def _known_faults(cls, value: list[str]) -> list[str]:
        from ..sim.faults import FAULTS
        unknown = [f for f in value if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        return value
