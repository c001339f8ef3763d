"""The ``led8`` head (Plastic Scanner compatible): eight NIR LEDs on GPIOs, one InGaAs photodiode.

One reading (framed by `BoardHead.acquire`): check the chips, read the temperature, a dark
reading with every LED off, then for each LED: on → settle → average N conversions → off.
Every LED is off on every exit. Its "lamp hours" are LED hours: the time any LED is on.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import LightSourceFailure
from ..hw.gpio import HIGH, LOW
from ..optics import LED8_BANDS
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
        self.pins = self.led_pins
        self._nominal = np.array([b.nominal_nm for b in LED8_BANDS], dtype=float)
        #: LEDs switched on now: the light counts as on while any is (`light_on_s`, LED hours).
        self._lit: set[int] = set()
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

    def _reading_temperature_c(self) -> float:
        return self.read_temperature_c()

    # --- the reading (framed by BoardHead.acquire) ---------------------------------------------

    def _sequence(self, temperature_c: float):
        s, clock = self.settings, self.board.clock
        self._prepare_adc()
        self._lights_off()
        dark = np.full(self._nominal.size, self._detector(s.dark_conversions, "dark"))
        lit = np.empty(self._nominal.size)
        for k, pin in enumerate(self.led_pins):
            self._led(pin, True)
            clock.sleep(s.settle_s)
            lit[k] = self._detector(s.conversions, f"LED {self._nominal[k]:g} nm")
            self._led(pin, False)
        return dark, lit, {"settle_s": s.settle_s}, {}

    def _led(self, pin: int, on: bool) -> None:
        self.board.gpio.write(pin, HIGH if on else LOW)
        if on:
            self._lit.add(pin)
        else:
            self._lit.discard(pin)
        self._light_switched(bool(self._lit))

    def _lights_off(self) -> None:
        for pin in self.led_pins:
            self._led(pin, False)

    def _check_light(self, net_v: np.ndarray) -> None:
        dead = [k for k in range(net_v.size) if net_v[k] < self.settings.min_signal_v]
        if dead:
            names = ", ".join(f"{self._nominal[k]:g} nm (GPIO{self.led_pins[k]}: {net_v[k] * 1e3:.3f} mV)"
                              for k in dead)
            raise LightSourceFailure(f"LED gives no light: {names}; a working LED shows at least the head's stray "
                                     f"light (> {self.settings.min_signal_v * 1e3:.1f} mV) — LED or its driver dead")
