"""Time for drivers: a `Clock` with ``monotonic()`` and ``sleep()``, real or simulated.

Drivers take the clock as a keyword argument instead of calling `time` directly, for two
reasons. The simulator must never really wait (a 0.5 s DRDY timeout or a 300 ms lamp warm-up
would make tests slow), and it must still know how long the acquisition *would* take on the
real board, which it reports as the physical acquisition time. With a `SimClock`, every wait
the driver asks for advances simulated time instead.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod


class Clock(ABC):
    """A monotonic time source the drivers wait on. Backends override both methods."""

    @abstractmethod
    def monotonic(self) -> float:
        """Seconds on a monotonic scale (the origin is arbitrary)."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Wait at least ``seconds`` (nothing for zero or negative)."""


class RealClock(Clock):
    """Wall time. Short waits busy-wait, because the datasheet waits are microseconds.

    ``time.sleep`` on a Raspberry Pi overshoots by 60–100 µs, which would multiply the cost of
    the ADS1256's t6 (6.5 µs) and t11 (3.1 µs) waits by ten; a busy wait below
    ``busy_wait_below_s`` is exact and, at a few µs, cheaper than a context switch.
    """

    def __init__(self, busy_wait_below_s: float = 100e-6) -> None:
        self.busy_wait_below_s = busy_wait_below_s

    def monotonic(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if seconds >= self.busy_wait_below_s:
            time.sleep(seconds)
            return
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass


class SimClock(Clock):
    """Simulated time: ``sleep`` advances it instantly.

    ``time_scale`` > 0 also really sleeps that fraction of every simulated wait, so a demo can
    make the simulated device take about as long as the real one (1.0 = real time) while tests
    keep the default 0 and never wait.
    """

    def __init__(self, start: float = 0.0, time_scale: float = 0.0) -> None:
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        self._now = float(start)
        self.time_scale = float(time_scale)

    def monotonic(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self._now += seconds
        if self.time_scale > 0:
            time.sleep(seconds * self.time_scale)

    def advance(self, seconds: float) -> None:
        """Let simulated time pass (e.g. while an SPI transfer clocks its bytes out)."""
        self.sleep(seconds)
