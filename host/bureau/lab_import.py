"""``nir-host lab import FILE.csv``: laboratory results to compare the units against.

Columns (header names are matched case-insensitively, spaces as underscores): ``sample_id``,
``lab_label`` (or ``label``), ``lab_method`` (or ``method``), ``date`` (YYYY-MM-DD). Other
columns are ignored. The file is imported whole or not at all: every bad cell is reported as
``FILE:LINE: column: value: reason`` and nothing is written. Importing a corrected file again
updates the rows it shares with the earlier one (same sample, method and date).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from firmware.contracts import normalize_label
from firmware.record import utc_now_rfc3339

from .database import Database
from .errors import LabImportError

REQUIRED = ("sample_id", "lab_label", "lab_method", "date")
ALIASES = {"label": "lab_label", "method": "lab_method", "sample": "sample_id"}
MAX_TEXT = 200
MAX_ERRORS = 20


@dataclass(frozen=True)
class LabRow:
    sample_id: str
    lab_label: str
    lab_method: str
    date: str
    line: int


def _column(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(key, key)


def read_lab_csv(path: str | Path) -> list[LabRow]:
    """Parse and check the whole file; `LabImportError` lists every problem (up to 20)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabImportError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise LabImportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise LabImportError(f"{path}: cannot read: {exc.strerror}") from None
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        raise LabImportError(f"{path}: empty file; expected a header {', '.join(REQUIRED)}") from None
    columns = [_column(h) for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise LabImportError(f"{path}:1: missing column(s) {', '.join(missing)} (header: {', '.join(header)})")
    dupes = {c for c in columns if columns.count(c) > 1 and c in REQUIRED}
    if dupes:
        raise LabImportError(f"{path}:1: column(s) {', '.join(sorted(dupes))} given twice")
    index = {c: columns.index(c) for c in REQUIRED}
    rows: list[LabRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, str], LabRow] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(f"{path}:{line}: {len(cells)} cells for {len(header)} columns")
            continue
        values = {c: cells[i].strip() for c, i in index.items()}
        bad = False
        for c in ("sample_id", "lab_label", "lab_method"):
            if not values[c]:
                errors.append(f"{path}:{line}: column {c}: empty")
                bad = True
            elif len(values[c]) > MAX_TEXT or "\x00" in values[c]:
                errors.append(f"{path}:{line}: column {c}: value {values[c][:40]!r}…: longer than {MAX_TEXT} "
                              "characters or contains NUL")
                bad = True
        try:
            day = date.fromisoformat(values["date"]).isoformat()
        except ValueError:
            errors.append(f"{path}:{line}: column date: value {values['date']!r}: not a date (YYYY-MM-DD)")
            bad = True
        if bad:
            continue
        row = LabRow(values["sample_id"], normalize_label(values["lab_label"]), values["lab_method"], day, line)
        key = (row.sample_id, row.lab_method, row.date)
        if key in seen and seen[key].lab_label != row.lab_label:
            errors.append(f"{path}:{line}: sample {row.sample_id} ({row.lab_method}, {row.date}) is labelled "
                          f"{row.lab_label} here and {seen[key].lab_label} on line {seen[key].line}")
            continue
        seen[key] = row
        rows.append(row)
    if errors:
        more = f"\n… and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise LabImportError(f"{path}: {len(errors)} problem(s), nothing imported:\n"
                             + "\n".join(errors[:MAX_ERRORS]) + more)
    return rows


def import_lab_results(db: Database, path: str | Path) -> dict[str, int]:
    """Import ``path`` in one transaction; returns counts of rows added, updated and unchanged."""
    rows = read_lab_csv(path)
    source = Path(path).name
    now = utc_now_rfc3339()
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    with db.transaction():
        for r in rows:
            held = db.one("SELECT lab_label FROM lab_results WHERE sample_id = ? AND lab_method = ? AND date = ?",
                          (r.sample_id, r.lab_method, r.date))
            if held is None:
                counts["added"] += 1
            elif held[0] != r.lab_label:
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
                continue
            db.execute("INSERT INTO lab_results (sample_id, lab_method, lab_label, date, imported_at, source) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sample_id, lab_method, date) DO UPDATE SET "
                       "lab_label = excluded.lab_label, imported_at = excluded.imported_at, source = excluded.source",
                       (r.sample_id, r.lab_method, r.lab_label, r.date, now, source))
    return counts
