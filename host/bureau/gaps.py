"""Seq ranges the bureau has not stored: opened when a unit's seq jumps, asked for in every ack.

Each unit numbers its results 1, 2, 3 … without reuse, so every seq below the highest one stored
that is not in ``results`` is a result the bureau is missing. Those ranges live in ``gaps``:
``open`` (asked for in the ``missing`` of every ack) until the result arrives (the range
shrinks or splits) or the unit reports it purged from its journal (state ``purged``: lost, and
known to be lost). Seqs start at 1, so a unit first heard at seq 5 opens the gap 1–4.

All functions run inside the caller's transaction, after the unit's row is locked, so two
ingesters sharing a subscription never both open or fill the same gap.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from .database import Database

OPEN = "open"
PURGED = "purged"


def subtract(first: int, last: int, remove: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[first, last]`` outside every range of ``remove`` (sorted, inclusive)."""
    pieces = []
    start = first
    for a, b in sorted(remove):
        if b < start or a > last:
            continue
        if a > start:
            pieces.append((start, a - 1))
        start = max(start, b + 1)
        if start > last:
            break
    if start <= last:
        pieces.append((start, last))
    return pieces


def intersect(first: int, last: int, ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[first, last]`` inside ``ranges``."""
    out = []
    for a, b in sorted(ranges):
        lo, hi = max(first, a), min(last, b)
        if lo <= hi:
            out.append((lo, hi))
    return out


def _as_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    from firmware.ack import seq_ranges
    return seq_ranges(seqs)


def _overlapping(db: Database, unit: str, lo: int, hi: int) -> list[tuple]:
    return db.query("SELECT first_seq, last_seq, state, opened_at, closed_at FROM gaps "
                    "WHERE unit = ? AND first_seq <= ? AND last_seq >= ?", (unit, hi, lo))


def _replace(db: Database, unit: str, old: list[tuple], new: list[tuple]) -> None:
    if old:
        db.executemany("DELETE FROM gaps WHERE unit = ? AND first_seq = ?", [(unit, r[0]) for r in old])
    if new:
        db.executemany("INSERT INTO gaps (unit, first_seq, last_seq, state, opened_at, closed_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", [(unit, *r) for r in new])


def fill(db: Database, unit: str, seqs: Iterable[int]) -> int:
    """Remove stored ``seqs`` from any gap (open or purged); returns how many seqs were in gaps."""
    stored = _as_ranges(seqs)
    if not stored:
        return 0
    rows = _overlapping(db, unit, stored[0][0], stored[-1][1])
    if not rows:
        return 0
    new, filled = [], 0
    for first, last, state, opened_at, closed_at in rows:
        keep = subtract(first, last, stored)
        filled += (last - first + 1) - sum(b - a + 1 for a, b in keep)
        new += [(a, b, state, opened_at, closed_at) for a, b in keep]
    _replace(db, unit, rows, new)
    return filled


def advance(db: Database, unit: str, highest: int, seqs: Sequence[int], now: str) -> int:
    """Account for newly stored ``seqs`` (sorted, unique) of ``unit`` whose highest was ``highest``.

    Seqs above ``highest`` open gaps for what they skip; seqs at or below it fill gaps. Returns
    the new highest seq.
    """
    below = [s for s in seqs if s <= highest]
    if below:
        fill(db, unit, below)
    opened = []
    prev = highest
    for s in seqs:
        if s <= highest:
            continue
        if s > prev + 1:
            opened.append((prev + 1, s - 1, OPEN, now, None))
        prev = s
    if opened:
        _replace(db, unit, [], opened)
    return prev


def mark_purged(db: Database, unit: str, ranges: Sequence[tuple[int, int]], now: str) -> int:
    """Close the open parts of ``ranges`` as purged (lost on the unit); returns seqs closed.

    Ranges the bureau never asked for (not in an open gap) are ignored: a unit cannot make the
    bureau forget results it holds.
    """
    ranges = sorted((int(a), int(b)) for a, b in ranges)
    if not ranges:
        return 0
    rows = [r for r in _overlapping(db, unit, ranges[0][0], max(b for _, b in ranges)) if r[2] == OPEN]
    new, closed = [], 0
    for first, last, state, opened_at, closed_at in rows:
        for a, b in subtract(first, last, ranges):
            new.append((a, b, OPEN, opened_at, None))
        for a, b in intersect(first, last, ranges):
            new.append((a, b, PURGED, opened_at, now))
            closed += b - a + 1
    if closed:
        _replace(db, unit, rows, new)
    return closed


def open_ranges(db: Database, unit: str, limit: int) -> list[tuple[int, int]]:
    """The lowest ``limit`` open gaps of ``unit``, what an ack's ``missing`` lists."""
    rows = db.query("SELECT first_seq, last_seq FROM gaps WHERE unit = ? AND state = ? "
                    "ORDER BY first_seq LIMIT ?", (unit, OPEN, limit))
    return [(int(a), int(b)) for a, b in rows]


def summary(db: Database) -> dict[str, dict[str, int]]:
    """Per unit: open gap ranges, open seqs, purged seqs (the units report)."""
    out: dict[str, dict[str, int]] = {}
    for unit, state, n, seqs in db.query(
            "SELECT unit, state, COUNT(*), SUM(last_seq - first_seq + 1) FROM gaps GROUP BY unit, state"):
        entry = out.setdefault(unit, {"open_ranges": 0, "open_seqs": 0, "purged_seqs": 0})
        if state == OPEN:
            entry["open_ranges"] += int(n)
            entry["open_seqs"] += int(seqs)
        else:
            entry["purged_seqs"] += int(seqs)
    return out
