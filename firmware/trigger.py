"""The trigger button: a push button to ground on ``hardware.trigger_pin`` (pull-up, active low).

Debounced in software by time, not by counting: the line must stay at a new level for
``debounce_s`` before the change counts, so contact bounce (a few ms of toggling on every press
and release) and short interference spikes on the cable never start a measurement, and one
press gives exactly one trigger however long it is held. A button held down while the device
starts does not count as a press; it must be released first.

`poll` is called by the acquisition loop every ``button_poll_s``; it only reads the input line,
which is safe beside an acquisition running on another thread (RPi.GPIO reads a register, the
simulator a table), so a press during a measurement is seen and refused with a reason.
"""
from __future__ import annotations

import time
from typing import Callable

from .hw.gpio import LOW, Gpio


class Button:
    def __init__(self, gpio: Gpio, pin: int, *, debounce_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.gpio = gpio
        self.pin = pin
        self.debounce_s = float(debounce_s)
        self._clock = clock
        gpio.setup_input(pin, pull_up=True)
        level = gpio.read(pin)
        self._stable = level
        self._candidate = level
        self._since = clock()
        self.presses = 0

    @property
    def pressed(self) -> bool:
        """The debounced state: is the button held down now?"""
        return self._stable == LOW

    def poll(self) -> bool:
        """Read the line once; True exactly once per debounced press (the moment it counts)."""
        level = self.gpio.read(self.pin)
        now = self._clock()
        if level != self._candidate:
            self._candidate, self._since = level, now
            return False
        if level != self._stable and now - self._since >= self.debounce_s:
            self._stable = level
            if level == LOW:
                self.presses += 1
                return True
        return False
