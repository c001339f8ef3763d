"""White and dark references: what turns raw counts into reflectance, and when they expire.

Reflectance of a sample is its net signal over the net signal of a white tile of known
reflectance, taken with the same head on the same grid at (nearly) the same temperature:

    R = (n(sample) − n(stray)) / (n(white) − n(stray)) × tile_reflectance

where n(x) = (lit − dark) / gain sensitivity. Every reading carries its own dark (light source
off), which removes the detector offset and ambient light. The optional *dark reference* is a
reading with the port covered (black trap): the stray light the head reflects into itself with
nothing on the port. Without one, n(stray) = 0 and the formula is the plain
(lit − dark) / (white_lit − white_dark) × tile.

A white reference blocks measuring when it is missing, too old, taken at a temperature too far
from now, or taken on another head or wavelength grid; each case gives the reason
"white reference needed" with the figures.

Gain: a saturated sample is re-read at a lower gain, so its counts must be scaled back to the
white's gain. A head reports its chain's relative sensitivity as ``gain["factor"]``; failing
that, two gain settings that differ only in the ADS1256 ``"pga"`` value are compared by it.
Anything else cannot be compared and is refused rather than guessed.
"""
from __future__ import annotations

import math
import time as time_module
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

import numpy as np

from .errors import NotReady, QualityRejection
from .journal import Journal
from .reading import RawReading
from .record import utc_now_rfc3339

WHITE = "white"
DARK = "dark"
KINDS = (WHITE, DARK)
NEEDED = "white reference needed"


@dataclass(frozen=True)
class Reference:
    """An averaged reference reading; arrays have shape ``(C,)``."""

    kind: str
    head: str
    taken_at: float
    temperature_c: float
    wavelengths_nm: np.ndarray
    dark: np.ndarray
    lit: np.ndarray
    gain: dict[str, Any] = field(default_factory=dict)
    full_scale_counts: int = 0x7FFFFF
    n_scans: int = 1
    id: int | None = None

    @property
    def net(self) -> np.ndarray:
        return self.lit - self.dark

    def age_s(self, now: float | None = None) -> float:
        return (time_module.time() if now is None else now) - self.taken_at

    def to_data(self) -> dict[str, Any]:
        return {"wavelengths_nm": self.wavelengths_nm.tolist(), "dark": self.dark.tolist(),
                "lit": self.lit.tolist(), "gain": dict(self.gain),
                "full_scale_counts": int(self.full_scale_counts), "n_scans": int(self.n_scans),
                "time": utc_now_rfc3339(_utc(self.taken_at))}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Reference":
        d = row["data"]
        temp = row["temperature_c"]
        return cls(kind=row["kind"], head=row["head"], taken_at=row["unix"],
                   temperature_c=float("nan") if temp is None else temp,
                   wavelengths_nm=np.asarray(d["wavelengths_nm"], dtype=float),
                   dark=np.asarray(d["dark"], dtype=float), lit=np.asarray(d["lit"], dtype=float),
                   gain=d.get("gain", {}), full_scale_counts=d.get("full_scale_counts", 0x7FFFFF),
                   n_scans=d.get("n_scans", 1), id=row["id"])

    def summary(self, now: float | None = None) -> dict[str, Any]:
        """What the status page and stats show about a reference."""
        return {"id": self.id, "kind": self.kind, "head": self.head, "time": utc_now_rfc3339(_utc(self.taken_at)),
                "age_s": round(self.age_s(now), 1),
                "temperature_c": None if math.isnan(self.temperature_c) else round(self.temperature_c, 2),
                "channels": int(self.wavelengths_nm.size), "gain": dict(self.gain)}


def _utc(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, timezone.utc)


def average(kind: str, readings: Sequence[RawReading], now: float | None = None) -> Reference:
    """Average scans taken back to back into one reference (they must share head, grid and gain)."""
    if kind not in KINDS:
        raise ValueError(f"reference kind {kind!r} is not one of {KINDS}")
    if not readings:
        raise ValueError("a reference needs at least one reading")
    first = readings[0]
    for r in readings[1:]:
        if r.head != first.head or r.gain != first.gain or not same_grid(r.wavelengths_nm, first.wavelengths_nm):
            raise ValueError("reference scans differ in head, grid or gain")
    return Reference(kind=kind, head=first.head, taken_at=time_module.time() if now is None else now,
                     temperature_c=float(np.mean([r.temperature_c for r in readings])),
                     wavelengths_nm=first.wavelengths_nm.copy(),
                     dark=np.mean([r.dark for r in readings], axis=0),
                     lit=np.mean([r.lit for r in readings], axis=0), gain=dict(first.gain),
                     full_scale_counts=first.full_scale_counts, n_scans=len(readings))


def same_grid(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=1e-6))


def _grid_text(wl: np.ndarray) -> str:
    return f"{wl.size} channels {wl.min():g}–{wl.max():g} nm" if wl.size else "no channels"


@dataclass(frozen=True)
class Validity:
    """Whether the white reference may be used now; ``reason`` is what the user reads if not."""

    ok: bool
    code: str | None = None  # missing | head | grid | expired | future | temperature
    detail: str | None = None

    @property
    def reason(self) -> str | None:
        return None if self.ok else f"{NEEDED}: {self.detail}"


def check_white(white: Reference | None, *, head: str, wavelengths_nm: np.ndarray, temperature_c: float,
                max_age_s: float, max_temperature_change_c: float, now: float | None = None) -> Validity:
    """Apply the validity rules (see the module docstring) in the order a technician would fix them."""
    now = time_module.time() if now is None else now
    if white is None:
        return Validity(False, "missing", f"none taken yet for the {head} head")
    if white.head != head:
        return Validity(False, "head", f"the last one was taken on the {white.head} head, this is {head}")
    if not same_grid(white.wavelengths_nm, wavelengths_nm):
        return Validity(False, "grid", f"taken on {_grid_text(white.wavelengths_nm)}, the head now reads "
                                       f"{_grid_text(np.asarray(wavelengths_nm, dtype=float))}")
    age = white.age_s(now)
    if age < -60.0:
        return Validity(False, "future", f"its time is {-age:.0f} s in the future (was the clock changed?)")
    if age > max_age_s:
        return Validity(False, "expired", f"it is {age / 3600:.1f} h old (limit {max_age_s / 3600:.1f} h)")
    if not (math.isfinite(temperature_c) and math.isfinite(white.temperature_c)):
        return Validity(False, "temperature", f"head temperature unknown (now {temperature_c}, "
                                              f"at reference {white.temperature_c})")
    change = temperature_c - white.temperature_c
    if abs(change) > max_temperature_change_c:
        return Validity(False, "temperature",
                        f"head temperature {temperature_c:.1f} °C is {abs(change):.1f} °C from the "
                        f"{white.temperature_c:.1f} °C it was taken at (limit {max_temperature_change_c:.1f} °C)")
    return Validity(True)


def gain_ratio(gain: dict[str, Any], ref_gain: dict[str, Any]) -> float:
    """Sensitivity at ``gain`` over sensitivity at ``ref_gain`` (see the module docstring)."""
    if gain == ref_gain:
        return 1.0
    for key in ("factor", "pga"):
        a, b = gain.get(key), ref_gain.get(key)
        others_equal = key == "factor" or {k: v for k, v in gain.items() if k != key} == \
            {k: v for k, v in ref_gain.items() if k != key}
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0 and others_equal:
            return float(a) / float(b)
    raise NotReady(f"{NEEDED}: the reading's gain {gain} cannot be compared with the reference's "
                   f"{ref_gain} (the head reports no gain 'factor')")


def normalized_net(reading_dark: np.ndarray, reading_lit: np.ndarray, gain: dict[str, Any],
                   white: Reference) -> np.ndarray:
    """Net counts scaled to the white reference's gain."""
    return (np.asarray(reading_lit, float) - np.asarray(reading_dark, float)) / gain_ratio(gain, white.gain)


def reflectance(reading: RawReading, white: Reference, *, tile_reflectance: float,
                stray: Reference | None = None) -> np.ndarray:
    """Relative reflectance ``(C,)`` of one reading; channels without white signal become NaN."""
    if not same_grid(reading.wavelengths_nm, white.wavelengths_nm):
        raise NotReady(f"{NEEDED}: the reading has {_grid_text(reading.wavelengths_nm)}, the reference "
                       f"{_grid_text(white.wavelengths_nm)}")
    sample = normalized_net(reading.dark, reading.lit, reading.gain, white)
    background = np.zeros_like(sample)
    if stray is not None:
        background = normalized_net(stray.dark, stray.lit, stray.gain, white)
    denom = white.net - background
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (sample - background) / denom * tile_reflectance
    return np.where(denom > 0, r, np.nan)


def check_white_reading(ref: Reference, *, min_fraction: float) -> None:
    """Refuse a white reading without light on every channel (lamp/LED dead, tile missing)."""
    floor = min_fraction * ref.full_scale_counts
    weak = np.flatnonzero(ref.net < floor)
    if weak.size:
        worst = int(weak[np.argmin(ref.net[weak])])
        raise QualityRejection(
            f"white reading too weak on {weak.size} of {ref.net.size} channels (weakest "
            f"{ref.wavelengths_nm[worst]:g} nm: {ref.net[worst]:.0f} counts, need ≥ {floor:.0f} = "
            f"{min_fraction:.1%} of full scale): is the white tile on the port and the light source working?")


def check_dark_reading(ref: Reference, white: Reference | None, *, max_fraction: float) -> None:
    """Refuse a dark (stray-light) reading that is bright compared with the white: port not covered."""
    if white is None or white.head != ref.head or not same_grid(white.wavelengths_nm, ref.wavelengths_nm):
        return
    ratio = float(np.median(normalized_net(ref.dark, ref.lit, ref.gain, white) / np.maximum(white.net, 1.0)))
    if ratio > max_fraction:
        raise QualityRejection(f"dark reference reads {ratio:.1%} of the white signal (limit {max_fraction:.0%}): "
                               f"cover the port with the black trap")


class ReferenceStore:
    """References kept in the journal (so they are shared by every process using the state dir)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def save(self, ref: Reference) -> Reference:
        rid = self.journal.save_reference(ref.kind, ref.head, ref.taken_at,
                                          None if math.isnan(ref.temperature_c) else ref.temperature_c,
                                          ref.to_data())
        return Reference(**{**ref.__dict__, "id": rid})

    def latest(self, kind: str, head: str | None = None) -> Reference | None:
        row = self.journal.latest_reference(kind, head)
        return Reference.from_row(row) if row else None

    def stray(self, head: str, wavelengths_nm: np.ndarray) -> Reference | None:
        """The newest dark reference usable for this head and grid, if any."""
        ref = self.latest(DARK, head)
        return ref if ref is not None and same_grid(ref.wavelengths_nm, wavelengths_nm) else None
