"""The ``fpi`` head: Hamamatsu C13272-02 MEMS Fabry–Pérot filter, halogen lamp, InGaAs detector.

One reading (framed by `BoardHead.acquire`): check the chips, read the thermistor and verify
the DAC (PGA 1), then with the lamp off (and cool) a dark reading, lamp on, warm-up, and a
sweep of the filter over the grid: for each wavelength the unit's table gives the tuning
voltage at the measured temperature, DAC channel A sets it through the high-voltage stage, the
mirror settles, and the detector's conversions are averaged. The lamp is switched off and the
filter parked at 0 V on every exit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import optics
from ..errors import ConfigError, HardwareError, LightSourceFailure
from ..hw.gpio import HIGH, LOW
from .base import register_head
from .common import BoardHead, check_data_lines
from .fpi_table import FpiTable, load_fpi_table, table_path_for

if TYPE_CHECKING:
    from ..board import Board
    from ..config import DeviceConfig
    from ..config.head import FpiSection

#: Temperatures the tuning voltages must be reachable at (°C): the device's operating range.
OPERATING_C = (0.0, 45.0)


@register_head("fpi")
class FpiHead(BoardHead):
    def __init__(self, *, board: "Board", settings: "FpiSection", table: FpiTable) -> None:
        super().__init__(board=board, settings=settings)
        self._grid = optics.fpi_grid(settings.start_nm, settings.stop_nm, settings.step_nm)
        self.max_tuning_v = board.dac.vref_v * 65535 / 65536 * settings.hv_gain
        self._check_table(table)
        #: The table from config (the sensor's own); `use_table` may put a corrected one in service.
        self.base_table = table
        self.table = table
        self.lamp_pin = board.hardware.lamp_pin
        self.pins = [self.lamp_pin]
        board.gpio.setup_output(self.lamp_pin, initial=LOW)
        # the lamp may have been on before this process started: wait a full cool-down first
        self._lamp_off_at = board.clock.monotonic()

    @classmethod
    def from_config(cls, config: "DeviceConfig", board: "Board") -> "FpiHead":
        table = load_fpi_table(table_path_for(config, board.backend))
        return cls(board=board, settings=config.head.fpi, table=table)

    @property
    def wavelengths_nm(self) -> np.ndarray:
        return self._grid.copy()

    def _check_table(self, table: FpiTable) -> None:
        lo, hi = table.range_nm
        if self._grid[0] < lo - 1e-9 or self._grid[-1] > hi + 1e-9:
            raise ConfigError(f"head.fpi sweep {self._grid[0]:g}–{self._grid[-1]:g} nm is outside the unit table "
                              f"{table.source}'s range {lo:g}–{hi:g} nm")
        for temp in OPERATING_C:
            volts = table.voltage(self._grid, temp)
            if volts.max() > self.max_tuning_v or volts.min() < 0:
                raise ConfigError(f"{table.source}: the sweep needs {volts.min():.2f}–{volts.max():.2f} V at "
                                  f"{temp:g} °C but DAC A × hv_gain {self.settings.hv_gain:g} reaches 0–"
                                  f"{self.max_tuning_v:.2f} V")

    def use_table(self, table: FpiTable) -> None:
        """Tune with ``table`` from the next reading on (a calibration's corrected coefficient table);
        `ConfigError` if the sweep cannot be driven with it, and the table in service stays."""
        self._check_table(table)
        self.table = table

    # --- pieces of the sequence ----------------------------------------------------------------

    def _lamp(self, on: bool) -> None:
        self.board.gpio.write(self.lamp_pin, HIGH if on else LOW)
        self._light_switched(on)  # the lamp hours (firmware.lamp_hours)
        if not on:
            self._lamp_off_at = self.board.clock.monotonic()

    def _codes(self, temperature_c: float) -> np.ndarray:
        volts = np.asarray(self.table.voltage(self._grid, temperature_c))
        if volts.max() > self.max_tuning_v or volts.min() < 0:
            raise HardwareError(f"at {temperature_c:.1f} °C the sweep needs {volts.min():.2f}–{volts.max():.2f} V, "
                                f"beyond the 0–{self.max_tuning_v:.2f} V the high-voltage stage gives "
                                f"({self.table.source})")
        return np.array([self.board.dac.code_for_volts(v) for v in volts / self.settings.hv_gain])

    def _tune(self, code: int) -> None:
        self.board.dac.write_code("A", int(code))
        self.board.clock.sleep(self.settings.settle_s)

    def read_temperature_c(self) -> float:
        check_data_lines(self.board.adc)
        return self._thermistor_c()

    def _sweep(self, codes: np.ndarray, conversions: int, what: str) -> np.ndarray:
        """Detector counts ``(C,)`` with the filter stepped through ``codes``."""
        counts = []
        for i, code in enumerate(codes):
            self._tune(code)
            counts.append(self._detector(conversions, f"{what}{self._grid[i]:g} nm"))
        return np.asarray(counts)

    # --- the reading (framed by BoardHead.acquire) ---------------------------------------------

    def _sequence(self, temperature_c: float):
        board, s = self.board, self.settings
        clock = board.clock
        if board.hardware.loopback_ain is not None:
            board.check_dac()
        codes = self._codes(temperature_c)
        self._prepare_adc()
        clock.sleep(self._lamp_off_at + s.lamp_cooldown_s - clock.monotonic())
        if s.dark_sweep:
            dark = self._sweep(codes, s.dark_conversions, "dark at ")
        else:
            self._tune(codes[0])
            dark = np.full(self._grid.size, self._detector(s.dark_conversions, "dark"))
        self._lamp(True)
        clock.sleep(s.lamp_warmup_s)
        lit = self._sweep(codes, s.conversions, "")
        extra = {"unit_table": self.table.unit,
                 "tuning_v": [round(float(v), 5) for v in self.table.voltage(self._grid, temperature_c)]}
        return dark, lit, {"hv_gain": s.hv_gain}, extra

    def _lights_off(self) -> None:
        self._lamp(False)
        self.board.dac.write_code("A", 0)   # park the filter, high voltage off

    def _check_light(self, net_v: np.ndarray) -> None:
        if net_v.max() < self.settings.min_signal_v:
            raise LightSourceFailure(
                f"lamp gives no light: the largest net detector signal over the sweep is {net_v.max() * 1e3:.3f} mV "
                f"(a working head sees at least its stray light, > {self.settings.min_signal_v * 1e3:.1f} mV) — "
                f"lamp burnt out or its MOSFET on GPIO{self.lamp_pin} not switching")
