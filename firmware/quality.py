"""Sample-quality checks on a measurement's scans, before the model sees anything.

A model asked about a spectrum it cannot interpret still answers; these checks make sure it is
only asked about real, steady samples, and that a refusal says why in words and figures:

- ``saturated``: lit counts at or near the ADC's full scale in some channel — the real
  reflectance is unknown there. Reported so the runtime can lower the gain and retry once.
- ``unstable``: the scans disagree by more than the limit (RMS reflectance of the worst scan
  against their mean) — the sample moved or the light flickered.
- ``empty``: nearly every channel reflects only stray light — nothing is on the port.
- ``dark``: median reflectance too low — black/dark (carbon-filled) plastics absorb the NIR
  light and cannot be identified.

Checks run in that order: a saturated channel falsifies every later figure, a moving sample
makes "empty" or "dark" meaningless.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .contracts import REJECTION_REASONS, rejection_reason
from .reading import RawReading

#: Share of channels that must be at stray-light level for the port to count as empty.
EMPTY_CHANNEL_SHARE = 0.9


def nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean over finite values; NaN (without numpy's empty-slice warning) where there are none."""
    a = np.asarray(a, dtype=float)
    finite = np.isfinite(a)
    n = finite.sum(axis=axis)
    total = np.where(finite, a, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


@dataclass(frozen=True)
class QualityIssue:
    """Why a measurement is refused: ``code`` from `REJECTION_REASONS`, ``detail`` with the figures."""

    code: str
    detail: str
    figures: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in REJECTION_REASONS:
            raise ValueError(f"unknown rejection code {self.code!r}")

    @property
    def reason(self) -> str:
        """The record's ``reason``: ``"<code>: <sentence> (<figures>)"``."""
        return rejection_reason(self.code, self.detail)

    @property
    def retry_lower_gain(self) -> bool:
        return self.code == "saturated"


def check_saturation(readings: Sequence[RawReading], fraction: float) -> QualityIssue | None:
    """Any lit (or dark) count at or above ``fraction`` of full scale in any scan."""
    worst, where = 0.0, None
    for r in readings:
        level = np.maximum(r.lit, r.dark) / float(r.full_scale_counts)
        i = int(np.argmax(level))
        if level[i] > worst:
            worst, where = float(level[i]), float(r.wavelengths_nm[i])
    if worst < fraction:
        return None
    n = sum(int(np.count_nonzero(np.maximum(r.lit, r.dark) >= fraction * r.full_scale_counts)) for r in readings)
    return QualityIssue("saturated", f"counts reach {worst:.1%} of full scale at {where:g} nm "
                                     f"({n} channel readings ≥ {fraction:.0%})",
                        {"max_fraction": worst, "wavelength_nm": where, "limit": fraction, "saturated_channels": n})


def scan_disagreement(reflectances: np.ndarray) -> np.ndarray:
    """RMS difference of each scan ``(S, C)`` from the mean scan, in reflectance units: shape ``(S,)``."""
    r = np.asarray(reflectances, dtype=float)
    dev = r - nanmean(r, axis=0)
    return np.sqrt(nanmean(dev**2, axis=1))


def check_agreement(reflectances: np.ndarray, limit: float) -> QualityIssue | None:
    r = np.atleast_2d(np.asarray(reflectances, dtype=float))
    if r.shape[0] < 2:
        return None
    rms = np.nan_to_num(scan_disagreement(r), nan=0.0)
    worst = int(np.argmax(rms))
    if rms[worst] <= limit:
        return None
    return QualityIssue("unstable", f"scan {worst + 1} of {r.shape[0]} differs from their mean by "
                                    f"{rms[worst]:.1%} RMS reflectance (limit {limit:.1%})",
                        {"worst_rms": float(rms[worst]), "scan": worst + 1, "limit": limit})


def check_empty(reflectance: np.ndarray, limit: float) -> QualityIssue | None:
    r = np.asarray(reflectance, dtype=float)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return None
    share = float(np.mean(r < limit))
    if share < EMPTY_CHANNEL_SHARE:
        return None
    return QualityIssue("empty", f"{share:.0%} of channels reflect less than {limit:.1%} "
                                 f"(highest {r.max():.2%}): only stray light",
                        {"share_below": share, "max_reflectance": float(r.max()), "limit": limit})


def check_dark(reflectance: np.ndarray, limit: float) -> QualityIssue | None:
    r = np.asarray(reflectance, dtype=float)
    if not np.isfinite(r).any():
        return None
    median = float(np.nanmedian(r))
    if median >= limit:
        return None
    return QualityIssue("dark", f"median reflectance {median:.1%}, below the {limit:.1%} limit",
                        {"median_reflectance": median, "limit": limit})


def assess(readings: Sequence[RawReading], reflectances: np.ndarray | None, *, saturation_fraction: float,
           scan_agreement: float, empty_max_reflectance: float, dark_max_reflectance: float
           ) -> QualityIssue | None:
    """The first issue of a measurement, or None if the model may see it.

    ``reflectances`` ``(S, C)`` per scan; None skips everything but saturation (no reference).
    """
    issue = check_saturation(readings, saturation_fraction)
    if issue or reflectances is None:
        return issue
    r = np.atleast_2d(np.asarray(reflectances, dtype=float))
    mean = nanmean(r, axis=0)
    return (check_agreement(r, scan_agreement) or check_empty(mean, empty_max_reflectance)
            or check_dark(mean, dark_max_reflectance))
