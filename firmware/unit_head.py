"""The unit's head as the runtime hands it to the measurement pipeline: one object for the
process's lifetime, whatever happens to the hardware underneath.

`Measurement`, the page and the MQTT link keep a reference to the head they were given. When
the board fails at start, or a self-test reopens it after a fault, the real head object changes;
`UnitHead` stays and delegates to whichever is attached, and without one every hardware call
raises `HardwareError` with the reason the hardware is not there.

It also remembers the last head temperature any reading saw, so the status page and MQTT stats
can show it without touching the hardware themselves, and tells ``after_reading`` (the lamp-hour
meter, `firmware.lamp_hours`) after every reading, failed or not, that the light was used.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numpy as np

from .errors import HardwareError
from .heads.base import OpticalHead
from .reading import RawReading

log = logging.getLogger(__name__)


class UnitHead(OpticalHead):
    def __init__(self, name: str) -> None:
        self.name = name  # the configured head; the attached one must have the same name
        self._head: OpticalHead | None = None
        self._missing = "hardware not opened yet"
        self._lock = threading.Lock()
        self.last_temperature_c: float | None = None
        self.last_temperature_at: float | None = None
        #: ``(head) -> None`` after every reading of the attached head (the lamp-hour meter).
        self.after_reading: Callable[[OpticalHead], None] | None = None

    # --- attaching ----------------------------------------------------------------------------

    @property
    def attached(self) -> bool:
        return self._head is not None

    def attach(self, head: OpticalHead) -> None:
        if head.name != self.name:
            raise HardwareError(f"head {head.name!r} attached where the unit has {self.name!r}")
        with self._lock:
            self._head = head

    def detach(self, reason: str) -> OpticalHead | None:
        """Take the head away (it is the caller's to close); later calls raise with ``reason``."""
        with self._lock:
            head, self._head = self._head, None
            self._missing = reason
        return head

    def _inner(self) -> OpticalHead:
        head = self._head
        if head is None:
            raise HardwareError(f"no optical head: {self._missing}")
        return head

    @property
    def current(self) -> OpticalHead | None:
        """The attached head, or None (never raises)."""
        return self._head

    @property
    def inner(self) -> OpticalHead:
        """The attached head (for the board self-test, which needs the real object)."""
        return self._inner()

    def _note(self, celsius: float) -> float:
        if np.isfinite(celsius):
            self.last_temperature_c, self.last_temperature_at = float(celsius), time.time()
        return celsius

    # --- OpticalHead --------------------------------------------------------------------------

    @property
    def wavelengths_nm(self) -> np.ndarray:
        return self._inner().wavelengths_nm

    def acquire(self) -> RawReading:
        head = self._inner()
        try:
            reading = head.acquire()
        finally:
            self._light_used(head)
        self._note(reading.temperature_c)
        return reading

    def _light_used(self, head: OpticalHead) -> None:
        if self.after_reading is None:
            return
        try:
            self.after_reading(head)
        except Exception:  # noqa: BLE001 - a maintenance counter must never fail a reading
            log.exception("after-reading hook failed")

    def light_on_s(self) -> float | None:
        head = self._head
        return head.light_on_s() if head is not None else None

    def read_temperature_c(self) -> float:
        return self._note(self._inner().read_temperature_c())

    def lower_gain(self) -> bool:
        return self._inner().lower_gain()

    def reset_gain(self) -> None:
        head = self._head
        if head is not None:
            head.reset_gain()

    def close(self) -> None:
        head = self.detach("closed")
        if head is not None:
            head.close()
