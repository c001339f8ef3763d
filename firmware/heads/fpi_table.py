"""A unit's FPI coefficient table: wavelength and temperature → tuning voltage, and back.

Each C13272-02 is different, so every unit carries its own table (``config/units/<unit>.toml``,
format documented in ``config/units/sim-default.toml``). The head uses `voltage` to tune; the
simulator uses the same table as the physical truth of its filter and inverts it with
`wavelength`, adding the unit's wavelength error on top.
"""
from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field, ValidationError, model_validator

from ..config import format_validation_error
from ..config.base import Section
from ..errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
#: How far beyond its range the table is trusted when inverted (the simulator parks there).
INVERT_MARGIN_NM = 60.0


class _TableFile(Section):
    unit: str = Field(description="Unit id the table belongs to.")
    sensor: str = Field(default="C13272-02", description="Sensor model.")
    serial: str = Field(default="", description="Sensor serial number.")
    range_nm: tuple[float, float] = Field(description="Tunable range the table is valid for (nm).")
    reference_wavelength_nm: float = Field(description="λ_ref of the polynomial variable x = λ − λ_ref.")
    reference_temperature_c: float = Field(description="T_ref of the temperature term.")
    voltage_coeffs: list[float] = Field(min_length=1, description="c_i of Σ c_i x^i (V).")
    temperature_coeffs: list[float] = Field(default_factory=list, description="t_j of (T − T_ref) Σ t_j x^j (V/°C).")

    @model_validator(mode="after")
    def _range(self) -> "_TableFile":
        if not self.range_nm[0] < self.range_nm[1]:
            raise ValueError(f"range_nm {list(self.range_nm)} must be increasing")
        return self


class _Document(Section):
    fpi: _TableFile = Field(description="The FPI coefficient table.")


@dataclass(frozen=True)
class FpiTable:
    """V(λ, T) of one unit; see the module docstring for the polynomial."""

    unit: str
    sensor: str
    serial: str
    range_nm: tuple[float, float]
    reference_wavelength_nm: float
    reference_temperature_c: float
    voltage_coeffs: tuple[float, ...]
    temperature_coeffs: tuple[float, ...]
    source: str = ""

    def voltage(self, wavelength_nm, temperature_c: float):
        """Tuning voltage (V at the filter) for ``wavelength_nm`` (scalar or array) at ``temperature_c``."""
        if np.ndim(wavelength_nm) == 0:
            return self._voltage_scalar(float(wavelength_nm), float(temperature_c))
        x = np.asarray(wavelength_nm, dtype=float) - self.reference_wavelength_nm
        v = np.polynomial.polynomial.polyval(x, self.voltage_coeffs)
        if self.temperature_coeffs:
            dt = temperature_c - self.reference_temperature_c
            v = v + dt * np.polynomial.polynomial.polyval(x, self.temperature_coeffs)
        return v

    def _voltage_scalar(self, wavelength_nm: float, temperature_c: float) -> float:
        # Horner in plain Python: the simulator inverts the table for every conversion
        x = wavelength_nm - self.reference_wavelength_nm
        v = 0.0
        for c in reversed(self.voltage_coeffs):
            v = v * x + c
        if self.temperature_coeffs:
            t = 0.0
            for c in reversed(self.temperature_coeffs):
                t = t * x + c
            v += (temperature_c - self.reference_temperature_c) * t
        return v

    def wavelength(self, voltage_v: float, temperature_c: float) -> float:
        """The wavelength this table tunes to at ``voltage_v``: the inverse of `voltage`.

        Outside the table's range ± 60 nm the result is clamped to that bracket (the filter's
        mechanical limits), which is where a dead DAC or a parked filter leaves it.
        """
        lo = self.range_nm[0] - INVERT_MARGIN_NM
        hi = self.range_nm[1] + INVERT_MARGIN_NM
        if self._voltage_scalar(lo, temperature_c) <= voltage_v:
            return lo
        if self._voltage_scalar(hi, temperature_c) >= voltage_v:
            return hi
        # bisection: V falls monotonically over the bracket (checked at load); 40 halvings of
        # 420 nm leave 4e-10 nm
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if self._voltage_scalar(mid, temperature_c) > voltage_v:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


def resolve_table_path(name_or_path: str, units_dir: str = "config/units") -> Path:
    """``sim-default`` → ``config/units/sim-default.toml``; a path (with / or .toml) stays a path.

    Relative paths are tried against the working directory, the source checkout, then the
    installed copy (``<prefix>/share/plastinir/``, where setup.py puts ``config/units``).
    """
    text = str(name_or_path)
    candidate = Path(text) if ("/" in text or text.endswith(".toml")) else Path(units_dir) / f"{text}.toml"
    if candidate.is_absolute() or candidate.exists():
        return candidate
    for root in (REPO_ROOT, Path(sys.prefix) / "share" / "plastinir"):
        if (root / candidate).exists():
            return root / candidate
    return candidate


def load_fpi_table(path: str | Path) -> FpiTable:
    """Read and check a table; `ConfigError` names the file, the key and the reason."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: FPI coefficient table not found (expected config/units/<unit>.toml; "
                          f"set head.fpi.unit_table)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: FPI coefficient table not readable: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        doc = _Document.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path), data)) from None
    t = doc.fpi
    table = FpiTable(t.unit, t.sensor, t.serial, t.range_nm, t.reference_wavelength_nm,
                     t.reference_temperature_c, tuple(t.voltage_coeffs), tuple(t.temperature_coeffs), str(path))
    lo, hi = t.range_nm[0] - INVERT_MARGIN_NM, t.range_nm[1] + INVERT_MARGIN_NM
    grid = np.linspace(lo, hi, 200)
    for temp in (t.reference_temperature_c - 30, t.reference_temperature_c, t.reference_temperature_c + 30):
        v = table.voltage(grid, temp)
        if np.any(np.diff(v) >= 0):
            raise ConfigError(f"{path}: key fpi.voltage_coeffs: V(λ) must fall monotonically over "
                              f"{lo:.0f}–{hi:.0f} nm at {temp:.0f} °C (a Fabry–Pérot filter tunes one way)")
        if np.any(v[(grid >= t.range_nm[0]) & (grid <= t.range_nm[1])] <= 0):
            raise ConfigError(f"{path}: key fpi.voltage_coeffs: negative tuning voltage inside range_nm")
    return table


def table_path_for(config, backend: str) -> Path:
    """Where the mounted unit's table is: ``head.fpi.unit_table``, else ``<units_dir>/<unit>.toml``;
    the simulator uses ``sim-default`` unless ``unit_table`` is set. A real board without either is a
    config error."""
    fpi = config.head.fpi
    name = fpi.unit_table or ("sim-default" if backend == "sim" else config.unit)
    if name is None:
        raise ConfigError("head.fpi.unit_table is not set and the config has no unit id: the fpi head needs "
                          "the unit's coefficient table (config/units/<unit>.toml)")
    return resolve_table_path(name, fpi.units_dir)
