"""What both heads on the AD/DA board share: the frame of a reading (chips verified first, every
light source off on every exit, physical time on the board's clock, the light check, the
`RawReading`), gain stepping, averaged conversions with the saturation check, the thermistor,
the light source's on-time, and closing. A head supplies only its light sequence and what is
particular to it."""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ..chips import ads1256_regs as R
from ..errors import AdcSaturation, ChipIdError, SensorFault
from ..reading import RawReading
from .base import OpticalHead

if TYPE_CHECKING:
    from ..board import Board
    from ..config import DeviceConfig
    from ..config.head import _Acquisition

#: A thermistor divider reading within 0.5 % of either rail is an open or shorted sensor.
_RAIL_FRACTION = 0.005


def ntc_celsius(volts: float, *, vref_v: float, series_ohm: float, r25_ohm: float, beta_k: float,
                where: str = "thermistor") -> float:
    """Temperature of an NTC from its divider voltage (B-parameter equation).

    The fixed resistor goes from VREF to the node and the NTC from the node to ground, so
    R_ntc = R_series · V / (VREF − V) and 1/T = 1/298.15 K + ln(R_ntc / R25) / B.
    """
    if volts >= vref_v * (1 - _RAIL_FRACTION):
        raise SensorFault(f"{where} reads {volts:.3f} V (at the {vref_v:g} V reference): open circuit — "
                          f"thermistor disconnected?")
    if volts <= vref_v * _RAIL_FRACTION:
        raise SensorFault(f"{where} reads {volts:.4f} V: short circuit to ground")
    r_ntc = series_ohm * volts / (vref_v - volts)
    return 1.0 / (1.0 / 298.15 + math.log(r_ntc / r25_ohm) / beta_k) - 273.15


class BoardHead(OpticalHead):
    """An optical head on the AD/DA board.

    Subclasses implement `_sequence` (the light sequence: dark, then every lit channel),
    `_lights_off`, `_check_light`, list their own output pins in ``self.pins``, and call
    `_light_switched` wherever they switch their light source, so `light_on_s` counts its
    on-time on the board's clock (in the simulator that is simulated time: a simulated
    measurement adds the lamp time the real one would).
    """

    def __init__(self, *, board: "Board", settings: "_Acquisition") -> None:
        self.board = board
        self.settings = settings
        self.pga = settings.pga
        #: GPIO outputs this head drives (lamp or LEDs), released on `close`.
        self.pins: list[int] = []
        self._closed = False
        #: (on-seconds of finished periods, clock time the running period began or None). One
        #: tuple, replaced whole, so `light_on_s` from another thread never sees half an update.
        self._light: tuple[float, float | None] = (0.0, None)

    @classmethod
    def from_config(cls, config: "DeviceConfig", board: "Board") -> "BoardHead":
        raise NotImplementedError

    # --- the reading ---------------------------------------------------------------------------

    def acquire(self) -> RawReading:
        clock = self.board.clock
        wall0, t0 = self._wall(), clock.monotonic()
        try:
            # a register read-back first: a fault injected since the last reading is caught here
            self.board.adc.verify()
            temperature = self._reading_temperature_c()
            dark, lit, gain_extra, extra = self._sequence(temperature)
        finally:
            self._lights_off()
        t1, wall1 = clock.monotonic(), self._wall()
        self._check_light(self._net_volts(dark, lit))
        return RawReading(head=self.name, wavelengths_nm=self.wavelengths_nm, dark=dark, lit=lit,
                          gain=self._gain_info(**gain_extra), temperature_c=temperature,
                          started_at=wall0, ended_at=wall1, physical_time_s=t1 - t0, extra=extra)

    def _reading_temperature_c(self) -> float:
        """The head temperature a reading records (after `Ads1256.verify`, so the lines are good)."""
        return self._thermistor_c()

    def _sequence(self, temperature_c: float) -> tuple[np.ndarray, np.ndarray, dict[str, Any], dict[str, Any]]:
        """Dark and lit counts per channel ``(C,)``, the gain settings particular to this head,
        and the reading's ``extra``. Light sources may be left on: `acquire` switches them off."""
        raise NotImplementedError

    def _lights_off(self) -> None:
        """Every light source off (and anything else that must not stay driven between readings)."""
        raise NotImplementedError

    def _check_light(self, net_v: np.ndarray) -> None:
        """`LightSourceFailure` if the net signal ``(C,)`` shows a dead light source."""
        raise NotImplementedError

    # --- light source on-time --------------------------------------------------------------------

    def _light_switched(self, on: bool) -> None:
        """Note that the light source went on (or off); repeats of the same state change nothing."""
        done, since = self._light
        now = self.board.clock.monotonic()
        if on and since is None:
            self._light = (done, now)
        elif not on and since is not None:
            self._light = (done + max(now - since, 0.0), None)

    def light_on_s(self) -> float:
        done, since = self._light
        return done if since is None else done + max(self.board.clock.monotonic() - since, 0.0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.board.closed:     # the board already switched everything off and released the pins
            self._light_switched(False)
            return
        try:
            self._lights_off()
        finally:
            self.board.gpio.cleanup(self.pins)

    # --- gain --------------------------------------------------------------------------------

    def lower_gain(self) -> bool:
        i = R.PGA_STEPS.index(self.pga)
        if i == 0:
            return False
        self.pga = R.PGA_STEPS[i - 1]
        return True

    def reset_gain(self) -> None:
        self.pga = self.settings.pga

    def _prepare_adc(self) -> None:
        adc = self.board.adc
        adc.set_data_rate(self.settings.data_rate_sps)
        adc.set_pga(self.pga)

    # --- conversions -----------------------------------------------------------------------------

    def _detector(self, conversions: int, where: str) -> float:
        """Mean of ``conversions`` settled detector codes; `AdcSaturation` if any is at the limit."""
        adc = self.board.adc
        codes = adc.read_channel(self.board.hardware.detector_ain, conversions=conversions)
        limit = self.settings.saturation_fraction * R.FULL_SCALE_CODE
        worst = max(codes, key=abs)
        if abs(worst) >= limit:
            exc = AdcSaturation(
                f"ADC saturated ({where}): code {worst} is {abs(worst) / R.FULL_SCALE_CODE:.1%} of full scale at "
                f"PGA {adc.pga} (limit {self.settings.saturation_fraction:.0%}) — lower the gain or check the "
                f"detector amplifier")
            exc.pga, exc.where = adc.pga, where
            raise exc
        return float(np.mean(codes))

    def _net_volts(self, dark: np.ndarray, lit: np.ndarray) -> np.ndarray:
        return (lit - dark) * R.lsb_volts(self.board.adc.vref_v, self.pga)

    def _thermistor_c(self) -> float:
        """Read the head thermistor at PGA 1 (its divider spans up to 2.5 V)."""
        adc = self.board.adc
        ain = self.board.hardware.thermistor_ain
        adc.set_pga(1)
        codes = adc.read_channel(ain, conversions=2)
        s = self.settings
        return ntc_celsius(adc.to_volts(float(np.mean(codes)), 1), vref_v=adc.vref_v,
                           series_ohm=s.thermistor_series_ohm, r25_ohm=s.thermistor_r25_ohm,
                           beta_k=s.thermistor_beta_k, where=f"head thermistor on AIN{ain}")

    def _gain_info(self, **extra: Any) -> dict[str, Any]:
        # "factor": the chain's relative sensitivity. Counts are proportional to the PGA setting
        # (ADS1256: code = V x PGA / LSB(PGA 1)), so a sample re-read at a lowered gain can be
        # compared with a white reference taken at the configured one (firmware.references.gain_ratio);
        # without it the derived lsb_v differs too and the comparison is refused.
        return {"pga": self.pga, "factor": float(self.pga), "data_rate_sps": self.settings.data_rate_sps,
                "conversions": self.settings.conversions, "dark_conversions": self.settings.dark_conversions,
                "lsb_v": R.lsb_volts(self.board.adc.vref_v, self.pga), **extra}

    @staticmethod
    def _wall() -> float:
        return time.time()


def check_data_lines(adc) -> None:
    """Raise `DataLineStuck` if MISO is stuck, before a voltage is read and interpreted.

    With MISO stuck low the thermistor reads 0 V and would be reported as a shorted sensor
    instead of the bus fault it is. A wrong chip ID is left to `acquire` (its ``verify``): it
    does not falsify a voltage, and the self-test names it on its own.
    """
    try:
        adc.check_lines_and_id()
    except ChipIdError:
        pass
