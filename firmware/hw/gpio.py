"""The `Gpio` interface: numbered lines (BCM numbering), inputs with pull-ups, outputs, waits.

A backend must override `setup_input`, `setup_output`, `write`, `read` and `cleanup`.
`wait_for` polls `read` on the given clock; a backend that knows when a line will change (the
simulator) or has hardware edge detection may override it.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterable

from ..errors import GpioError
from .clock import Clock

LOW = 0
HIGH = 1

#: BCM GPIO numbers reachable on the 40-pin header of every Raspberry Pi we target.
VALID_PINS = range(0, 28)


def check_pin(pin: int) -> int:
    """Reject pin numbers that cannot exist on the header before they reach a backend."""
    if not isinstance(pin, int) or isinstance(pin, bool) or pin not in VALID_PINS:
        raise GpioError(f"GPIO{pin}: not a BCM pin number on the 40-pin header (0–27)")
    return pin


class Gpio(ABC):
    """GPIO lines by BCM number. Not thread-safe: the board is used by one acquisition at a time."""

    @abstractmethod
    def setup_input(self, pin: int, *, pull_up: bool = False) -> None:
        """Make ``pin`` an input, with the internal pull-up enabled if ``pull_up``."""

    @abstractmethod
    def setup_output(self, pin: int, *, initial: int = LOW) -> None:
        """Make ``pin`` an output driven to ``initial`` from the first instant."""

    @abstractmethod
    def write(self, pin: int, value: int) -> None:
        """Drive an output pin low (0) or high (1)."""

    @abstractmethod
    def read(self, pin: int) -> int:
        """Level of a pin: 0 or 1."""

    @abstractmethod
    def cleanup(self, pins: Iterable[int] | None = None) -> None:
        """Return ``pins`` (default: every pin this object set up) to inputs and forget them."""

    def wait_for(self, pin: int, level: int, *, timeout_s: float, clock: Clock,
                 poll_s: float = 100e-6) -> bool:
        """Wait until ``pin`` reads ``level``; True if it did within ``timeout_s``.

        Polling rather than edge interrupts: DRDY may already be low when the wait starts (an
        edge wait would then miss it), and RPi.GPIO's edge detection clashes with other users
        of the same line. 100 µs polls (a real sleep, not a busy wait, so a Pi Zero keeps a core for
        the rest) are well below the 1 ms conversion period the heads use.
        """
        deadline = clock.monotonic() + timeout_s
        while True:
            if self.read(pin) == level:
                return True
            if clock.monotonic() >= deadline:
                return False
            clock.sleep(poll_s)
