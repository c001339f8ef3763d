"""TEST-ONLY stand-ins for an optical head and a model, for unit tests of the device runtime.

These are not simulators: the register-level simulator (firmware/sim) is the hardware stand-in
for end-to-end tests. `ScriptedHead` implements the `OpticalHead` interface with counts computed
from a scripted scene (sample reflectance per channel, per scan if it "moves") so a test can
make exactly the situation it checks: a dark sample, an empty port, saturation at high gain, a
sample moving between scans, a hardware fault. `NearestMeanModel` answers like a model
(`predict` → Prediction-like objects) by nearest class mean on its grid.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware.errors import DrdyTimeout
from firmware.heads.base import OpticalHead
from firmware.optics import fpi_grid
from firmware.reading import ADC_FULL_SCALE, RawReading

#: PGA settings the scripted head steps through when asked to lower its gain.
GAINS = (64, 32, 16)


class ScriptedHead(OpticalHead):
    """Counts = dark offset + lamp × reflectance × gain/64 (+ noise), clipped at full scale."""

    name = "fpi"

    def __init__(self, wavelengths_nm: np.ndarray | None = None, *, lamp_counts: float = 4.0e6,
                 dark_counts: float = 1200.0, noise_counts: float = 200.0, seed: int = 7) -> None:
        self._wl = fpi_grid() if wavelengths_nm is None else np.asarray(wavelengths_nm, dtype=float)
        # A lamp × detector shape that is not flat, so reflectance really divides it out.
        self.lamp = lamp_counts * (0.6 + 0.4 * np.exp(-(((self._wl - self._wl.mean()) / 120.0) ** 2)))
        self.dark_counts = dark_counts
        self.noise_counts = noise_counts
        self.rng = np.random.default_rng(seed)
        self.scene: np.ndarray | list[np.ndarray] = np.full(self._wl.size, 0.99)  # the white tile
        self.stray = 0.0
        self.temperature_c = 25.0
        self.gain_index = 0
        self.fail_with: Exception | None = None
        self.acquired = 0
        self.gain_resets = 0
        self.closed = False

    # --- scripting ---------------------------------------------------------------------------

    def put(self, reflectance: float | np.ndarray | list[np.ndarray]) -> None:
        """Place a sample: one reflectance (scalar or (C,)) or a list of them, one per scan."""
        if isinstance(reflectance, list):
            self.scene = [np.broadcast_to(np.asarray(r, float), self._wl.shape).copy() for r in reflectance]
        else:
            self.scene = np.broadcast_to(np.asarray(reflectance, float), self._wl.shape).copy()

    def _current_scene(self) -> np.ndarray:
        if isinstance(self.scene, list):
            return self.scene[min(self.acquired, len(self.scene) - 1)]
        return self.scene

    # --- OpticalHead ---------------------------------------------------------------------------

    @property
    def wavelengths_nm(self) -> np.ndarray:
        return self._wl

    def acquire(self) -> RawReading:
        if self.fail_with is not None:
            raise self.fail_with
        pga = GAINS[self.gain_index]
        signal = self.lamp * (self._current_scene() + self.stray) * pga / GAINS[0]
        dark = self.dark_counts + self.rng.normal(0, self.noise_counts, self._wl.size)
        lit = np.minimum(dark + signal + self.rng.normal(0, self.noise_counts, self._wl.size), ADC_FULL_SCALE)
        self.acquired += 1
        return RawReading(head=self.name, wavelengths_nm=self._wl, dark=dark, lit=lit, gain={"pga": pga},
                          temperature_c=self.temperature_c, started_at=0.0, ended_at=0.0,
                          physical_time_s=0.61)

    def read_temperature_c(self) -> float:
        return self.temperature_c

    def lower_gain(self) -> bool:
        if self.gain_index + 1 >= len(GAINS):
            return False
        self.gain_index += 1
        return True

    def reset_gain(self) -> None:
        self.gain_index = 0
        self.gain_resets += 1

    def close(self) -> None:
        self.closed = True


def drdy_timeout() -> DrdyTimeout:
    return DrdyTimeout("ADS1256 DRDY (GPIO17) stayed high for 0.5 s")


@dataclass
class FakePrediction:
    verdict: str
    reason: str | None
    class_: str | None
    degradable: bool | None
    confidence: float | None
    scores: dict[str, float]
    t2: float | None
    q: float | None
    limits: dict[str, float] | None
    composition: dict[str, Any] = field(default_factory=dict)


class NearestMeanModel:
    """Nearest class mean by RMS distance; ``unknown`` beyond ``q_limit``."""

    def __init__(self, means: dict[str, np.ndarray], q_limit: float = 0.01) -> None:
        self.means = {k: np.asarray(v, dtype=float) for k, v in means.items()}
        self.q_limit = q_limit
        self.calls: list[np.ndarray] = []

    def predict(self, reflectance: np.ndarray) -> list[FakePrediction]:
        x = np.atleast_2d(np.asarray(reflectance, dtype=float))
        self.calls.append(x)
        out = []
        for row in x:
            d = {k: float(np.mean((row - m) ** 2)) for k, m in self.means.items()}
            best = min(d, key=d.get)
            weights = {k: np.exp(-v / 1e-4) for k, v in d.items()}
            total = sum(weights.values()) or 1.0
            scores = {k: float(w / total) for k, w in weights.items()}
            if d[best] > self.q_limit:
                out.append(FakePrediction("unknown", "outside every class (Q above its limit)", None, None, None,
                                          scores, 1.0, d[best], {"t2": 10.0, "q": self.q_limit}))
            else:
                out.append(FakePrediction("identified", None, best, None, scores[best], scores, 1.0, d[best],
                                          {"t2": 10.0, "q": self.q_limit},
                                          {"pla_wt_pct": {"value": 98.0, "uncertainty": 1.5, "unit": "wt%"}}))
        return out
