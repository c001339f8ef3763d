"""The hardware layer: narrow `Gpio`, `SpiBus` and `Clock` interfaces and their real backends.

Drivers (``firmware.chips``) only ever see these interfaces, so the same driver code runs on a
Raspberry Pi (``gpio_rpi``, ``spi_spidev``, `RealClock`) and against the register-level
simulator (``firmware.sim``). Real backends import their libraries lazily, inside the backend,
so host tools and tests import this package anywhere.
"""
from .clock import Clock, RealClock, SimClock
from .gpio import Gpio
from .spi import SpiBus

__all__ = ["Clock", "RealClock", "SimClock", "Gpio", "SpiBus"]
