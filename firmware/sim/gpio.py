"""Simulated GPIO: outputs that observers (chips, lamp, LEDs) listen to, inputs that chips drive.

Chips attach themselves as the driver of an input line (the ADS1256 drives DRDY) and as
listeners of output lines (CS, RESET; the lamp MOSFET and LEDs feed the optical model). Misuse
that would fail or misbehave on a Pi (writing an input, reading an unconfigured pin) raises
`GpioError` here too.
"""
from __future__ import annotations

from typing import Callable, Iterable, Protocol

from ..errors import GpioError
from ..hw.clock import Clock
from ..hw.gpio import HIGH, LOW, Gpio, check_pin

Listener = Callable[[int, float], None]


class PinDriver(Protocol):
    """Something outside the Pi that drives an input line (a chip output)."""

    def level(self, t: float) -> int: ...

    def next_time_at(self, level: int, t: float) -> float | None:
        """Earliest time >= t at which the line will be at ``level`` (None: not without help)."""


class SimGpio(Gpio):
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._mode: dict[int, str] = {}
        self._out: dict[int, int] = {}
        self._pull_up: dict[int, bool] = {}
        self._drivers: dict[int, PinDriver] = {}
        self._listeners: dict[int, list[Listener]] = {}

    # --- wiring (the simulated board's business, not the drivers') ------------------------------

    def attach_driver(self, pin: int, driver: PinDriver) -> None:
        self._drivers[check_pin(pin)] = driver

    def on_change(self, pin: int, listener: Listener) -> None:
        """Call ``listener(level, t)`` whenever the Pi changes what it drives on ``pin``."""
        self._listeners.setdefault(check_pin(pin), []).append(listener)

    def driven_level(self, pin: int) -> int:
        """What the Pi drives on ``pin``; a released or input pin counts as LOW (board pull-downs)."""
        return self._out.get(pin, LOW) if self._mode.get(pin) == "out" else LOW

    def drives_low(self, pin: int) -> bool:
        """True if ``pin`` is an output the Pi drives low (an asserted chip select)."""
        return self._mode.get(pin) == "out" and self._out.get(pin) == LOW

    def _notify(self, pin: int, before: int) -> None:
        after = self.driven_level(pin)
        if after != before:
            t = self.clock.monotonic()
            for listener in self._listeners.get(pin, ()):
                listener(after, t)

    # --- the Gpio interface ---------------------------------------------------------------------

    def setup_input(self, pin: int, *, pull_up: bool = False) -> None:
        before = self.driven_level(check_pin(pin))
        self._mode[pin] = "in"
        self._pull_up[pin] = pull_up
        self._notify(pin, before)

    def setup_output(self, pin: int, *, initial: int = LOW) -> None:
        before = self.driven_level(check_pin(pin))
        if pin in self._drivers:
            raise GpioError(f"GPIO{pin}: is driven by a chip output on this board; making it an output "
                            f"would short the two drivers")
        self._mode[pin] = "out"
        self._out[pin] = HIGH if initial else LOW
        self._notify(pin, before)

    def write(self, pin: int, value: int) -> None:
        if self._mode.get(pin) != "out":
            raise GpioError(f"GPIO{pin}: write to a pin that is not set up as an output")
        before = self.driven_level(pin)
        self._out[pin] = HIGH if value else LOW
        self._notify(pin, before)

    def read(self, pin: int) -> int:
        mode = self._mode.get(pin)
        if mode is None:
            raise GpioError(f"GPIO{pin}: read of a pin that is not set up")
        if mode == "out":
            return self._out[pin]
        driver = self._drivers.get(pin)
        if driver is not None:
            return driver.level(self.clock.monotonic())
        return HIGH if self._pull_up.get(pin) else LOW

    def cleanup(self, pins: Iterable[int] | None = None) -> None:
        chosen = list(self._mode) if pins is None else [p for p in pins if p in self._mode]
        for pin in chosen:
            before = self.driven_level(pin)
            del self._mode[pin]
            self._out.pop(pin, None)
            self._pull_up.pop(pin, None)
            self._notify(pin, before)

    def wait_for(self, pin: int, level: int, *, timeout_s: float, clock: Clock, poll_s: float = 100e-6) -> bool:
        """Jump simulated time straight to the moment the driving chip changes the line."""
        if self.read(pin) == level:
            return True
        driver = self._drivers.get(pin) if self._mode.get(pin) == "in" else None
        start = clock.monotonic()
        deadline = start + timeout_s
        if driver is not None:
            for _ in range(4):  # a few steps absorb float rounding at the exact edge time
                t_next = driver.next_time_at(level, clock.monotonic())
                if t_next is None or t_next > deadline:
                    break
                clock.sleep(max(t_next - clock.monotonic(), 0.0) + 1e-9)
                if self.read(pin) == level:
                    return True
        remaining = deadline - clock.monotonic()
        clock.sleep(remaining)
        return self.read(pin) == level
