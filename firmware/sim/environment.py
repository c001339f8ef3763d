"""The simulated unit's surroundings: temperature (with drift) and what lies on the port.

A sliding sample (``motion`` > 0) uncovers part of the port: the fraction of the port the
sample covers wanders smoothly with simulated time, so successive acquisitions, and even the
channels within one, see different mixtures of the sample and the empty port. That is what the
runtime's repeat-scan check must catch.
"""
from __future__ import annotations

import math

import numpy as np

from .samples import Placement, SampleSource, SampleSpectrum


class Environment:
    def __init__(self, *, temperature_c: float, drift_c_per_min: float, rng: np.random.Generator, t0: float) -> None:
        self.rng = rng
        self._t_base = t0
        self._temp_base = float(temperature_c)
        self._drift = float(drift_c_per_min)
        self.placement: Placement | None = None
        self._waves: list[tuple[float, float, float]] = []

    # --- temperature ----------------------------------------------------------------------------

    def temperature_c(self, t: float) -> float:
        return self._temp_base + self._drift * (t - self._t_base) / 60.0

    def set_temperature(self, celsius: float, t: float) -> None:
        """Jump to ``celsius`` now; any drift continues from there."""
        self._temp_base, self._t_base = float(celsius), t

    def set_drift(self, c_per_min: float, t: float) -> None:
        self._temp_base, self._t_base = self.temperature_c(t), t
        self._drift = float(c_per_min)

    # --- the port -------------------------------------------------------------------------------

    def place(self, source: SampleSource, item: SampleSpectrum, motion: float) -> None:
        if not 0.0 <= motion <= 1.0:
            raise ValueError(f"motion {motion}: must be between 0 (still) and 1 (sliding across the whole port)")
        self.placement = Placement(source, item, float(motion))
        # three incommensurate swings, periods 0.4–2.5 s: a hand-held sample sliding about
        self._waves = [(float(self.rng.uniform(0.4, 2.5)), float(self.rng.uniform(0, 2 * math.pi)),
                        float(self.rng.uniform(0.5, 1.0))) for _ in range(3)]

    def coverage(self, t: float) -> float:
        """Fraction of the port the sample covers at ``t`` (1 for a still sample)."""
        if self.placement is None or self.placement.motion == 0.0:
            return 1.0
        total = sum(a for _, _, a in self._waves)
        u = 0.5 + 0.5 * sum(a * math.sin(2 * math.pi * t / p + ph) for p, ph, a in self._waves) / total
        return 1.0 - self.placement.motion * u
