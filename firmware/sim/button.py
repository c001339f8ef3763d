"""The trigger button on the simulated board: a switch to ground on an input with pull-up.

It drives the trigger line like the real button does (high when released, low when pressed,
active low) and bounces like a real contact: each press or release first toggles the line a few
times within ``bounce_s``. The runtime polls the line in *real* time while simulated time only
advances inside acquisitions, so the line's level is a function of real (monotonic) time here,
not of the simulated clock. Tests and the demo press it from any thread::

    board.sim.button.click()                     # press, hold 100 ms, release (with bounce)
    board.sim.button.glitch(0.004)               # a 4 ms spike: the debounce must ignore it
"""
from __future__ import annotations

import bisect
import threading
import time
from typing import Callable

from ..hw.gpio import HIGH, LOW

#: Contact bounce: the line toggles every this many seconds until the bounce time is over.
BOUNCE_PERIOD_S = 0.0007


class SimButton:
    """A `firmware.sim.gpio.PinDriver` for the trigger input; see the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._times: list[float] = [float("-inf")]
        self._levels: list[int] = [HIGH]
        self.presses = 0

    # --- the line -----------------------------------------------------------------------------

    def level(self, t: float | None = None) -> int:
        """The line's level now (``t``, simulated time, is ignored: see the module docstring)."""
        now = self._clock()
        with self._lock:
            return self._levels[bisect.bisect_right(self._times, now) - 1]

    def next_time_at(self, level: int, t: float) -> float | None:
        return t if self.level(t) == level else None

    # --- the finger ---------------------------------------------------------------------------

    def _switch(self, level: int, bounce_s: float, delay_s: float = 0.0) -> None:
        start = self._clock() + delay_s
        with self._lock:
            # a new action replaces whatever was scheduled after it
            keep = bisect.bisect_right(self._times, start)
            del self._times[keep:], self._levels[keep:]
            t, current = start, self._levels[-1]
            toggles = int(bounce_s / BOUNCE_PERIOD_S) if bounce_s > 0 else 0
            for i in range(toggles):  # alternate, starting with the new level
                self._times.append(t)
                self._levels.append(level if i % 2 == 0 else current)
                t += BOUNCE_PERIOD_S
            self._times.append(t)
            self._levels.append(level)

    def press(self, bounce_s: float = 0.003) -> None:
        """Close the contact (line low) and keep it closed."""
        self.presses += 1
        self._switch(LOW, bounce_s)

    def release(self, bounce_s: float = 0.003) -> None:
        """Open the contact (line back high through the pull-up)."""
        self._switch(HIGH, bounce_s)

    def click(self, hold_s: float = 0.1, bounce_s: float = 0.003) -> None:
        """Press, hold ``hold_s``, release (blocks for ``hold_s``)."""
        self.press(bounce_s)
        time.sleep(hold_s)
        self.release(bounce_s)

    def glitch(self, duration_s: float = 0.004) -> None:
        """A spike to low shorter than a press (interference on the cable); returns at once."""
        self._switch(LOW, 0.0)
        self._switch(HIGH, 0.0, delay_s=duration_s)
