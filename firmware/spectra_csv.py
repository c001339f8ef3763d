"""The spectra CSV interchange format (DESIGN.md): one row per spectrum.

Columns: ``sample_id`` (the physical item; every split groups by it), ``label`` (polymer code,
empty if unknown), optional ``degradable`` (true/false), optional ``colour``/``color``,
optional ``y_<name>`` quantities, other metadata, then one column per wavelength whose header
is the wavelength in nm as a number. Values are relative reflectance on any scale.

Device exports, technician libraries and evaluation sets all use it, and the device must not
need pandas, so this is plain ``csv`` + numpy. The reader is strict: a file that breaks the
format fails with the file, line and column named, because a silently mis-parsed library
would train a wrong model.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Sequence

import numpy as np

from .contracts import is_degradable, normalize_label
from .errors import SpectraFormatError

REQUIRED_COLUMNS = ("sample_id", "label")
QUANTITY_PREFIX = "y_"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def parse_wavelength_header(name: str) -> float | None:
    """The wavelength a header names, or None for a metadata column. ``"1555.5"`` → 1555.5."""
    try:
        value = float(name.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def format_wavelength(nm: float) -> str:
    """Shortest header that reads back as the same float: 1550.0 → ``"1550"``, 1555.5 → ``"1555.5"``."""
    text = repr(float(nm))
    return text[:-2] if text.endswith(".0") else text


@dataclass
class SpectraTable:
    """Spectra and their metadata, as read from or written to a spectra CSV.

    ``values`` has shape ``(n_spectra, n_wavelengths)``; ``meta`` maps each metadata column to
    one string per row, in file order (``meta_columns``).
    """

    wavelengths_nm: np.ndarray
    values: np.ndarray
    meta: dict[str, list[str]] = field(default_factory=dict)
    meta_columns: list[str] = field(default_factory=list)
    source: str | None = None

    def __post_init__(self) -> None:
        self.wavelengths_nm = np.asarray(self.wavelengths_nm, dtype=float)
        self.values = np.atleast_2d(np.asarray(self.values, dtype=float))
        if self.values.shape[1] != self.wavelengths_nm.size:
            raise SpectraFormatError(f"{self.source or 'spectra'}: {self.values.shape[1]} values per row "
                                     f"but {self.wavelengths_nm.size} wavelengths")
        for col in REQUIRED_COLUMNS:
            self.meta.setdefault(col, [""] * len(self.values))
        for col in self.meta:
            if col not in self.meta_columns:
                self.meta_columns.append(col)
        order = [c for c in REQUIRED_COLUMNS] + [c for c in self.meta_columns if c not in REQUIRED_COLUMNS]
        self.meta_columns = order
        for col, vals in self.meta.items():
            if len(vals) != len(self.values):
                raise SpectraFormatError(f"{self.source or 'spectra'}: column {col!r} has {len(vals)} "
                                         f"entries for {len(self.values)} spectra")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def sample_ids(self) -> np.ndarray:
        return np.asarray(self.meta["sample_id"], dtype=object)

    @property
    def labels(self) -> np.ndarray:
        """Labels normalised to the contract's upper-case spelling ("" = unknown)."""
        return np.asarray([normalize_label(v) for v in self.meta["label"]], dtype=object)

    @property
    def degradable(self) -> np.ndarray:
        """Per-row truth: the ``degradable`` column where it has a value, else the class table."""
        col = self.meta.get("degradable")
        out = []
        for i, label in enumerate(self.labels):
            text = col[i].strip().lower() if col is not None else ""
            out.append(text in _TRUE if text else is_degradable(label))
        return np.asarray(out, dtype=bool)

    @property
    def colours(self) -> list[str]:
        col = self.meta.get("colour") or self.meta.get("color")
        return [c.strip().lower() for c in col] if col is not None else [""] * len(self)

    @property
    def quantity_names(self) -> list[str]:
        """Names of the ``y_<name>`` columns, with their prefix (e.g. ``y_pp_wt_pct``)."""
        return [c for c in self.meta_columns if c.startswith(QUANTITY_PREFIX)]

    def quantity(self, name: str) -> np.ndarray:
        """Values of a ``y_`` column as floats, NaN where empty."""
        return np.asarray([float(v) if v.strip() else np.nan for v in self.meta[name]], dtype=float)

    def subset(self, index: Sequence[int] | np.ndarray) -> "SpectraTable":
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return SpectraTable(self.wavelengths_nm.copy(), self.values[idx].copy(),
                            {k: [v[i] for i in idx] for k, v in self.meta.items()},
                            list(self.meta_columns), self.source)

    def row_meta(self, i: int) -> dict[str, str]:
        return {c: self.meta[c][i] for c in self.meta_columns}


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_spectra_csv(source: str | Path | IO[str]) -> SpectraTable:
    """Read a spectra CSV (``.csv`` or ``.csv.gz``, or an open text stream)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = str(path)
        try:
            with _open_text(path) as fh:
                return _parse(csv.reader(fh), name)
        except FileNotFoundError as exc:
            raise SpectraFormatError(f"{name}: file not found") from exc
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
            raise SpectraFormatError(f"{name}: not a readable text CSV ({exc})") from exc
    return _parse(csv.reader(source), getattr(source, "name", "<stream>"))


def _parse(rows: Iterable[list[str]], name: str) -> SpectraTable:
    rows = iter(rows)
    try:
        header = [h.strip() for h in next(rows)]
    except StopIteration:
        raise SpectraFormatError(f"{name}: empty file, expected a header line") from None
    except csv.Error as exc:
        raise SpectraFormatError(f"{name} line 1: {exc}") from exc
    meta_cols: list[str] = []
    wl: list[float] = []
    for j, h in enumerate(header):
        w = parse_wavelength_header(h)
        if w is None:
            if wl:
                raise SpectraFormatError(f"{name} line 1, column {j + 1} {h!r}: metadata column after "
                                         f"the wavelength columns; wavelengths must come last")
            if not h:
                raise SpectraFormatError(f"{name} line 1, column {j + 1}: empty column name")
            if h in meta_cols:
                raise SpectraFormatError(f"{name} line 1: duplicate column {h!r}")
            meta_cols.append(h)
        else:
            if wl and w <= wl[-1]:
                raise SpectraFormatError(f"{name} line 1, column {j + 1} {h!r}: wavelengths must "
                                         f"strictly increase (previous {format_wavelength(wl[-1])})")
            wl.append(w)
    for col in REQUIRED_COLUMNS:
        if col not in meta_cols:
            raise SpectraFormatError(f"{name} line 1: required column {col!r} missing "
                                     f"(have {', '.join(meta_cols) or 'none'})")
    if len(wl) < 1:
        raise SpectraFormatError(f"{name} line 1: no wavelength columns (headers that are numbers in nm)")
    n_meta = len(meta_cols)
    meta: dict[str, list[str]] = {c: [] for c in meta_cols}
    values: list[list[float]] = []
    line = 1
    try:
        for line, row in enumerate(rows, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise SpectraFormatError(f"{name} line {line}: {len(row)} fields, header has {len(header)}")
            for c, v in zip(meta_cols, row[:n_meta]):
                meta[c].append(v.strip())
            if not meta["sample_id"][-1]:
                raise SpectraFormatError(f"{name} line {line}: empty sample_id (every spectrum needs "
                                         f"the physical item it came from)")
            deg = meta.get("degradable")
            if deg is not None and deg[-1] and deg[-1].lower() not in _TRUE | _FALSE:
                raise SpectraFormatError(f"{name} line {line}, column 'degradable': {deg[-1]!r} is not "
                                         f"true or false")
            for c in meta_cols:
                if c.startswith(QUANTITY_PREFIX) and meta[c][-1]:
                    _number(meta[c][-1], name, line, c)
            values.append([_number(v, name, line, header[n_meta + k]) for k, v in enumerate(row[n_meta:])])
    except csv.Error as exc:
        raise SpectraFormatError(f"{name} line {line}: {exc}") from exc
    if not values:
        raise SpectraFormatError(f"{name}: header only, no spectra")
    return SpectraTable(np.asarray(wl), np.asarray(values, dtype=float), meta, meta_cols, name)


def _number(text: str, name: str, line: int, column: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise SpectraFormatError(f"{name} line {line}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise SpectraFormatError(f"{name} line {line}, column {column!r}: {text!r} is not a finite number")
    return v


def write_spectra_csv(target: str | Path | IO[str], table: SpectraTable) -> None:
    """Write ``table``; floats use ``repr`` so a file read back gives the same numbers."""
    if isinstance(target, (str, Path)):
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        opener = gzip.open(path, "wt", encoding="utf-8", newline="") if path.suffix == ".gz" \
            else open(path, "w", encoding="utf-8", newline="")
        with opener as fh:
            _write(fh, table)
    else:
        _write(target, table)


def _write(fh: IO[str], table: SpectraTable) -> None:
    for c in table.meta_columns:
        if parse_wavelength_header(c) is not None:
            raise SpectraFormatError(f"metadata column {c!r} looks like a wavelength; rename it")
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(list(table.meta_columns) + [format_wavelength(w) for w in table.wavelengths_nm])
    for i in range(len(table)):
        writer.writerow([table.meta[c][i] for c in table.meta_columns] + [repr(float(v)) for v in table.values[i]])
