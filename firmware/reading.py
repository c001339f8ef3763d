"""One raw reading of an optical head: what the hardware saw, before any chemistry.

Both heads return this, so everything downstream (references, quality checks, inference, the
journal's ``raw`` field, the bench) is head-agnostic. Counts are signed ADS1256 codes averaged
over the conversions of each channel; ``physical_time_s`` is how long the acquisition takes
on real hardware (settling, conversions, LED/filter waits), which the simulator reports from
its simulated clock so benchmarks can compare software time against it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Largest positive ADS1256 code (24-bit two's complement).
ADC_FULL_SCALE = 0x7FFFFF


@dataclass
class RawReading:
    """Dark and lit counts per channel; arrays have shape ``(C,)`` for C channels."""

    head: str
    wavelengths_nm: np.ndarray
    dark: np.ndarray
    lit: np.ndarray
    gain: dict[str, Any]
    temperature_c: float
    started_at: float
    ended_at: float
    physical_time_s: float
    full_scale_counts: int = ADC_FULL_SCALE
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.wavelengths_nm = np.asarray(self.wavelengths_nm, dtype=float)
        self.dark = np.asarray(self.dark, dtype=float)
        self.lit = np.asarray(self.lit, dtype=float)
        n = self.wavelengths_nm.size
        if self.dark.shape != (n,) or self.lit.shape != (n,):
            raise ValueError(f"{self.head} reading: dark {self.dark.shape} and lit {self.lit.shape} "
                             f"must both have shape ({n},)")

    @property
    def net(self) -> np.ndarray:
        """Lit minus dark counts: the sample's signal."""
        return self.lit - self.dark

    def to_json(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "wavelengths_nm": self.wavelengths_nm.tolist(),
            "dark": self.dark.tolist(),
            "lit": self.lit.tolist(),
            "gain": dict(self.gain),
            "temperature_c": float(self.temperature_c),
            "started_at": float(self.started_at),
            "ended_at": float(self.ended_at),
            "physical_time_s": float(self.physical_time_s),
            "full_scale_counts": int(self.full_scale_counts),
            **({"extra": self.extra} if self.extra else {}),
        }
