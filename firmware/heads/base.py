"""The interface every optical head implements, and the name → class registry.

The runtime only ever talks to this interface, so the acquisition loop, the references and the
quality checks do not care whether the light comes from eight LEDs or a tunable filter, nor
whether the board is real or simulated (the drivers underneath are the same either way).

A head must override: `wavelengths_nm`, `acquire`, `read_temperature_c`, `lower_gain`,
`reset_gain`, `close`. A head that switches its own light source also overrides `light_on_s`,
which the runtime's lamp-hour meter (`firmware.lamp_hours`) reads.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, ClassVar, TypeVar

import numpy as np

from ..reading import RawReading

HEADS: dict[str, type["OpticalHead"]] = {}

H = TypeVar("H", bound=type["OpticalHead"])


def register_head(name: str) -> Callable[[H], H]:
    """Class decorator: make a head selectable as ``head.name = "<name>"`` in config."""

    def deco(cls: H) -> H:
        if name in HEADS:
            raise ValueError(f"optical head {name!r} registered twice")
        cls.name = name
        HEADS[name] = cls
        return cls

    return deco


class OpticalHead(ABC):
    """A head on the AD/DA board. Not thread-safe: the runtime serialises acquisitions."""

    name: ClassVar[str] = ""

    @property
    @abstractmethod
    def wavelengths_nm(self) -> np.ndarray:
        """Channel wavelengths ``(C,)`` a reading reports, in nm."""

    @abstractmethod
    def acquire(self) -> RawReading:
        """Dark reading, then every lit channel; light sources are off again on return, even on error."""

    @abstractmethod
    def read_temperature_c(self) -> float:
        """Head temperature (the FPI's thermistor; the board's estimate for led8)."""

    @abstractmethod
    def lower_gain(self) -> bool:
        """Step the gain down one level for a saturated sample; False if already at the lowest."""

    @abstractmethod
    def reset_gain(self) -> None:
        """Return to the configured gain."""

    def light_on_s(self) -> float | None:
        """Seconds its light source (lamp, or any LED) has been on since this head object was
        opened, on the board's clock, including a period still running; only ever grows.

        None: this head does not switch a light source it can count (the meter shows "not
        available" rather than a made-up 0).
        """
        return None

    @abstractmethod
    def close(self) -> None:
        """Switch light sources off and release the buses and pins."""

    def __enter__(self) -> "OpticalHead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
