"""What can lie on the simulated port: sample sources, parsed from ``<class|csv:PATH:ROW|white|black|empty>``.

A `SampleSource` draws one physical item (`SampleSpectrum`): reflectance as a fraction over
wavelength, either continuous (any head; the optics integrate it) or per led8 band (the led8
package's class means). Sources are registered by name, so later work adds its own (grey
standards, a wavelength standard, stray-light targets) with `register_source` and the CLI,
the runtime and the tests can all ask for them by spec::

    @register_source("grey", help="grey:PCT  certified grey standard, PCT % flat")
    def _grey(arg, package):
        return FlatSource(f"grey:{arg}", float(arg) / 100)

Named polymer classes come from a model package: real items of the class from the package's
training library (``library.npz``: the measured spectra the model was trained on) where it has
one, else its ``manifest["reference_spectra"]`` mean and sd.
"""
from __future__ import annotations

import io
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from ..errors import SampleSourceError, SpectraFormatError
from ..optics import LED8_BANDS
from ..spectra_csv import read_spectra_csv

#: Flat sources are defined over this range, wide enough for both heads' optics.
FLAT_RANGE_NM = (700.0, 2600.0)
#: Reflectance of the white tile every unit carries (the device assumes this value).
WHITE_TILE_REFLECTANCE = 0.99
#: Carbon-filled black plastic: a few percent, nearly flat across the NIR.
BLACK_REFLECTANCE = 0.03
#: Correlation length of drawn sample-to-sample variation (nm).
VARIATION_LENGTH_NM = 40.0


@dataclass(frozen=True)
class SampleSpectrum:
    """One physical item: reflectance (fraction) ``(W,)`` at ``wavelengths_nm`` ``(W,)``.

    ``kind`` is ``continuous`` or ``bands`` (values at the led8 LEDs' nominal wavelengths).
    ``unit_white_tile`` marks the unit's own white tile, whose true reflectance the simulated
    unit's gain error changes.
    """

    name: str
    wavelengths_nm: np.ndarray
    reflectance: np.ndarray
    kind: Literal["continuous", "bands"] = "continuous"
    unit_white_tile: bool = False

    def at(self, wavelengths_nm: np.ndarray) -> np.ndarray:
        """Linear interpolation; holds the end values beyond the covered range."""
        return np.interp(np.asarray(wavelengths_nm, dtype=float), self.wavelengths_nm, self.reflectance)

    def covers(self, lo_nm: float, hi_nm: float) -> bool:
        return self.wavelengths_nm[0] <= lo_nm + 1e-6 and self.wavelengths_nm[-1] >= hi_nm - 1e-6


class SampleSource(ABC):
    """Something that can be placed on the port; `draw` returns one item of it."""

    name: str = ""

    @abstractmethod
    def draw(self, rng: np.random.Generator) -> SampleSpectrum:
        """A physical item (fresh sample-to-sample variation, where the source has any)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class FlatSource(SampleSource):
    """Constant reflectance over `FLAT_RANGE_NM` (white tile, black plastic, empty port, grey standards)."""

    def __init__(self, name: str, reflectance: float, *, unit_white_tile: bool = False) -> None:
        self.name = name
        self.reflectance = float(reflectance)
        self.unit_white_tile = unit_white_tile

    def draw(self, rng: np.random.Generator) -> SampleSpectrum:
        wl = np.array(FLAT_RANGE_NM)
        return SampleSpectrum(self.name, wl, np.full(2, self.reflectance), unit_white_tile=self.unit_white_tile)


class SpectrumSource(SampleSource):
    """A fixed measured spectrum (e.g. one row of a spectra CSV); every draw is the same item."""

    def __init__(self, name: str, wavelengths_nm: np.ndarray, reflectance: np.ndarray,
                 kind: Literal["continuous", "bands"] = "continuous") -> None:
        self.name = name
        self.spectrum = SampleSpectrum(name, np.asarray(wavelengths_nm, float), np.asarray(reflectance, float), kind)

    def draw(self, rng: np.random.Generator) -> SampleSpectrum:
        return self.spectrum


class ClassSource(SampleSource):
    """A polymer class: its mean spectrum plus variation drawn from its per-wavelength sd.

    Items of one class differ in baseline and band depth, smoothly over wavelength, not pixel by
    pixel; the variation is therefore a Gaussian random curve with a 40 nm correlation length,
    scaled by ``sd`` at each wavelength (so its pointwise spread is exactly ``sd``).
    """

    def __init__(self, name: str, wavelengths_nm, mean, sd, kind: Literal["continuous", "bands"] = "continuous") -> None:
        self.name = name
        self.wavelengths_nm = np.asarray(wavelengths_nm, dtype=float)
        self.mean = np.asarray(mean, dtype=float)
        self.sd = np.asarray(sd, dtype=float)
        self.kind = kind
        n = self.wavelengths_nm.size
        if n < 2 or self.mean.shape != (n,) or self.sd.shape != (n,) or np.any(np.diff(self.wavelengths_nm) <= 0):
            raise SampleSourceError(f"class {name}: reference spectrum needs increasing wavelengths_nm and "
                                    f"mean/sd of the same length ({n}, {self.mean.shape}, {self.sd.shape})")
        if np.any(self.sd < 0) or not np.all(np.isfinite(self.mean)) or not np.all(np.isfinite(self.sd)):
            raise SampleSourceError(f"class {name}: mean/sd must be finite and sd >= 0")
        # correlated unit-variance noise: drawn on a coarse grid (<= 400 points), interpolated
        lo, hi = self.wavelengths_nm[0], self.wavelengths_nm[-1]
        step = max(5.0, (hi - lo) / 400) if kind == "continuous" else None
        self._coarse = np.arange(lo, hi + step, step) if step else self.wavelengths_nm
        d = self._coarse[:, None] - self._coarse[None, :]
        corr = np.exp(-0.5 * (d / VARIATION_LENGTH_NM) ** 2) + 1e-9 * np.eye(self._coarse.size)
        self._chol = np.linalg.cholesky(corr)

    def draw(self, rng: np.random.Generator) -> SampleSpectrum:
        z = self._chol @ rng.standard_normal(self._coarse.size)
        z = np.interp(self.wavelengths_nm, self._coarse, z)
        values = np.clip(self.mean + self.sd * z, 0.0, None)
        return SampleSpectrum(self.name, self.wavelengths_nm, values, self.kind)


class LibrarySource(SampleSource):
    """A polymer class as real items: each draw is one measured spectrum ``(W,)`` of the class.

    The reference spectra's sd is the spread over real items, dominated by how much light an
    item returns (thickness, gloss, colour); a random curve scaled by it changes band shapes no
    real item has. Drawing the measured items themselves keeps every item a plausible one.
    """

    def __init__(self, name: str, wavelengths_nm, items, kind: Literal["continuous", "bands"] = "continuous") -> None:
        self.name = name
        self.wavelengths_nm = np.asarray(wavelengths_nm, dtype=float)
        self.items = np.atleast_2d(np.asarray(items, dtype=float))
        self.kind = kind
        if self.items.shape[0] == 0 or self.items.shape[1] != self.wavelengths_nm.size:
            raise SampleSourceError(f"class {name}: library items {self.items.shape} do not match "
                                    f"{self.wavelengths_nm.size} wavelengths")

    def draw(self, rng: np.random.Generator) -> SampleSpectrum:
        row = self.items[int(rng.integers(self.items.shape[0]))]
        return SampleSpectrum(self.name, self.wavelengths_nm, np.clip(row, 0.0, None), self.kind)


def _library_source(name: str, manifest: dict, package: Any, scale: float) -> LibrarySource | None:
    """The class's real items from the package's ``library.npz`` (None if it has none for it)."""
    blob = (getattr(package, "files", None) or {}).get("library.npz")
    head = manifest.get("head")
    if not blob or head not in ("fpi", "led8"):
        return None
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as lib:
            labels = np.char.upper(lib["labels"].astype(str))
            if head == "fpi":
                wl, values, kind = lib["fpi_source_wavelengths_nm"], lib["fpi_source_values"], "continuous"
            else:
                wl, values, kind = np.array([b.nominal_nm for b in LED8_BANDS]), lib["led8_values"], "bands"
            rows = values[labels == name.upper()]
    except (KeyError, ValueError, OSError, zipfile.BadZipFile):
        return None  # a library without raw items (or another layout): use the reference spectrum
    if rows.shape[0] == 0 or rows.ndim != 2 or rows.shape[1] != np.size(wl):
        return None
    return LibrarySource(name, wl, rows / scale, kind)


def _scale(manifest: dict, mean: np.ndarray) -> float:
    """100 if the package's spectra are in percent, else 1: the manifest's ``input.units`` says
    which (the shipped packages use fractions that exceed 1.5 for bright plastics); only a
    package that does not say is judged by its values."""
    units = str((manifest.get("input") or {}).get("units", "")).lower()
    if "fraction" in units:
        return 1.0
    if "%" in units or "percent" in units:
        return 100.0
    return 100.0 if np.nanmedian(np.asarray(mean, dtype=float)) > 1.5 else 1.0


def to_fraction(values: np.ndarray) -> np.ndarray:
    """Reflectance as a fraction. Spectra files may hold fractions or percent (DESIGN.md: any
    scale); a median above 1.5 can only be percent (no plastic reflects 150 %)."""
    values = np.asarray(values, dtype=float)
    return values / 100.0 if np.nanmedian(values) > 1.5 else values


# --- the registry -------------------------------------------------------------------------------

#: factory(argument after "name:", or None; the model package or manifest, or None) -> source
SourceFactory = Callable[[str | None, Any], SampleSource]


@dataclass(frozen=True)
class _Entry:
    factory: SourceFactory
    help: str
    takes_argument: bool = False

    @property
    def usage(self) -> str:
        """The spec form, the first word of ``help`` (e.g. ``csv:PATH:ROW``)."""
        return self.help.split()[0]


SOURCES: dict[str, _Entry] = {}


def register_source(name: str, *, help: str, takes_argument: bool = False) -> Callable[[SourceFactory], SourceFactory]:
    """Decorator: make ``name`` (or ``name:ARG``) a sample spec. Names are case-insensitive;
    ``help`` starts with the spec form (``"grey:PCT  certified grey standard"``)."""
    key = name.lower()

    def deco(factory: SourceFactory) -> SourceFactory:
        if key in SOURCES:
            raise ValueError(f"sample source {name!r} registered twice")
        SOURCES[key] = _Entry(factory, help, takes_argument)
        return factory

    return deco


def _manifest(package: Any) -> dict | None:
    if package is None:
        return None
    manifest = getattr(package, "manifest", package)
    if not isinstance(manifest, dict):
        raise SampleSourceError("package must be a ModelPackage or a manifest dict")
    return manifest


def class_names(package: Any) -> list[str]:
    manifest = _manifest(package)
    if manifest is None:
        return []
    spectra = manifest.get("reference_spectra") or {}
    return sorted(spectra) if isinstance(spectra, dict) else []


def available_sources(package: Any = None) -> list[str]:
    """Every spec accepted now: registered names, then the package's class names."""
    return [e.usage for e in SOURCES.values()] + class_names(package)


def class_source(name: str, package: Any) -> SampleSource:
    """The class ``name`` (any case) from the package's reference spectra."""
    manifest = _manifest(package)
    wanted = name.strip().upper()
    spectra = manifest.get("reference_spectra") or {} if manifest else {}
    matches = [k for k in spectra if k.upper() == wanted]
    if not matches:
        raise KeyError(name)
    entry = spectra[matches[0]]
    try:
        wl, mean, sd = entry["wavelengths_nm"], entry["mean"], entry["sd"]
    except (KeyError, TypeError):
        raise SampleSourceError(f"package {manifest.get('name', '?')}: reference_spectra[{matches[0]!r}] needs "
                                f"wavelengths_nm, mean and sd") from None
    kind = "bands" if manifest.get("head") == "led8" else "continuous"
    scale = _scale(manifest, mean)
    library = _library_source(matches[0], manifest, package, scale)
    if library is not None:
        return library
    return ClassSource(matches[0], wl, np.asarray(mean, float) / scale, np.asarray(sd, float) / scale, kind)


def parse_sample(spec: str, package: Any = None) -> SampleSource:
    """Turn a spec into a source: ``white``, ``black``, ``empty``, ``csv:PATH:ROW``, any registered
    ``name[:ARG]``, or a class name of ``package`` (a `ModelPackage` or a manifest dict).

    Unknown specs raise `SampleSourceError` listing what is available.
    """
    text = (spec or "").strip()
    if not text:
        raise SampleSourceError(f"empty sample spec; available: {', '.join(available_sources(package))}")
    name, sep, arg = text.partition(":")
    entry = SOURCES.get(name.lower())
    if entry is not None:
        if entry.takes_argument and not arg:
            raise SampleSourceError(f"sample {name!r} needs an argument: {entry.help}")
        if not entry.takes_argument and sep:
            raise SampleSourceError(f"sample {name!r} takes no argument (got {arg!r})")
        return entry.factory(arg or None, package)
    if not sep:
        try:
            return class_source(text, package)
        except KeyError:
            pass
    where = (f"classes of package {_manifest(package).get('name', '?')}: {', '.join(class_names(package)) or 'none'}"
             if package is not None else "class names need a model package (--model PKG)")
    builtin = ", ".join(e.usage for e in SOURCES.values())
    raise SampleSourceError(f"unknown sample {text!r}; available sources: {builtin}; {where}")


# --- built-in sources ------------------------------------------------------------------------------

@register_source("white", help="white  the unit's 99 % white reference tile")
def _white(arg: str | None, package: Any) -> SampleSource:
    return FlatSource("white", WHITE_TILE_REFLECTANCE, unit_white_tile=True)


@register_source("black", help="black  carbon-filled black plastic (3 %, flat)")
def _black(arg: str | None, package: Any) -> SampleSource:
    return FlatSource("black", BLACK_REFLECTANCE)


@register_source("empty", help="empty  nothing on the port (only the head's stray light)")
def _empty(arg: str | None, package: Any) -> SampleSource:
    return FlatSource("empty", 0.0)


@register_source("csv", help="csv:PATH:ROW  row ROW (0 = first data row) of a spectra CSV", takes_argument=True)
def _csv(arg: str | None, package: Any) -> SampleSource:
    path, sep, row_text = (arg or "").rpartition(":")
    if not sep or not path:
        raise SampleSourceError(f"csv sample {arg!r}: expected csv:PATH:ROW")
    try:
        row = int(row_text)
    except ValueError:
        raise SampleSourceError(f"csv sample {arg!r}: ROW {row_text!r} is not a whole number") from None
    try:
        table = read_spectra_csv(Path(path))
    except SpectraFormatError as exc:
        raise SampleSourceError(f"csv sample: {exc}") from None
    if not 0 <= row < len(table):
        raise SampleSourceError(f"csv sample {path}: row {row} does not exist (the file has {len(table)} "
                                f"data rows, numbered from 0)")
    meta = table.row_meta(row)
    label = meta.get("label") or "?"
    name = f"csv:{path}:{row} ({meta.get('sample_id', '?')}, {label})"
    values = to_fraction(table.values[row])
    nominal = np.array([b.nominal_nm for b in LED8_BANDS])
    kind = ("bands" if table.wavelengths_nm.size == nominal.size and np.allclose(table.wavelengths_nm, nominal)
            else "continuous")
    return SpectrumSource(name, table.wavelengths_nm, values, kind)


@dataclass
class Placement:
    """What lies on the port now: a drawn item and how much it slides (0 = still)."""

    source: SampleSource
    item: SampleSpectrum
    motion: float = 0.0
    extra: dict = field(default_factory=dict)


# Calibration standards (grey tiles, light trap, wavelength standards) register themselves here.
from . import standards as _standards  # noqa: E402,F401  (import for its registrations)
