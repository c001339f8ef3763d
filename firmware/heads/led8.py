"""The ``led8`` head (Plastic Scanner compatible): eight NIR LEDs on GPIOs, one InGaAs photodiode.

One reading: check the chips, read the temperature, a dark reading with every LED off, then for
each LED: on → settle → average N conversions → off. Every LED is off on every exit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import LightSourceFailure
from ..hw.gpio import HIGH, LOW
from ..optics import LED8_BANDS
from ..reading import RawReading
from .base import register_head
from .common import BoardHead, check_data_lines

if TYPE_CHECKING:
    from ..board import Board
    from ..config import DeviceConfig
    from ..config.head import Led8Section


@register_head("led8")
class Led8Head(BoardHead):
    def __init__(self, *, board: "Board", settings: "Led8Section") -> None:
        super().__init__(board=board, settings=settings)
        self.led_pins = list(board.hardware.led_pins)
        self._nominal = np.array([b.nominal_nm for b in LED8_BANDS], dtype=float)
        for pin in self.led_pins:
            board.gpio.setup_output(pin, initial=LOW)

    @classmethod
    def from_config(cls, config: "DeviceConfig", board: "Board") -> "Led8Head":
        return cls(board=board, settings=config.head.led8)

    @property
    def wavelengths_nm(self) -> np.ndarray:
        return self._nominal.copy()

    def read_temperature_c(self) -> float:
        if self.settings.use_thermistor:
            check_data_lines(self.board.adc)
            return self._thermistor_c()
        return self.board.read_board_temperature_c()

    def _all_off(self) -> None:
        for pin in self.led_pins:
            self.board.gpio.write(pin, LOW)

    def acquire(self) -> RawReading:
        board, s = self.board, self.settings
        clock, gpio = board.clock, board.gpio
        wall0, t0 = self._wall(), clock.monotonic()
        try:
            board.adc.verify()
            temperature = self.read_temperature_c()
            self._prepare_adc()
            self._all_off()
            dark = np.full(self._nominal.size, self._detector(s.dark_conversions, "dark"))
            lit = np.empty(self._nominal.size)
            for k, pin in enumerate(self.led_pins):
                gpio.write(pin, HIGH)
                clock.sleep(s.settle_s)
                lit[k] = self._detector(s.conversions, f"LED {self._nominal[k]:g} nm")
                gpio.write(pin, LOW)
        finally:
            self._all_off()
        t1, wall1 = clock.monotonic(), self._wall()
        net = self._net_volts(dark, lit)
        dead = [k for k in range(net.size) if net[k] < s.min_signal_v]
        if dead:
            names = ", ".join(f"{self._nominal[k]:g} nm (GPIO{self.led_pins[k]}: {net[k] * 1e3:.3f} mV)" for k in dead)
            raise LightSourceFailure(f"LED gives no light: {names}; a working LED shows at least the head's stray "
                                     f"light (> {s.min_signal_v * 1e3:.1f} mV) — LED or its driver dead")
        return RawReading(head=self.name, wavelengths_nm=self._nominal.copy(), dark=dark, lit=lit,
                          gain=self._gain_info(settle_s=s.settle_s), temperature_c=temperature,
                          started_at=wall0, ended_at=wall1, physical_time_s=t1 - t0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.board.closed:     # the board already switched everything off and released the pins
            return
        try:
            self._all_off()
        finally:
            self.board.gpio.cleanup(self.led_pins)
