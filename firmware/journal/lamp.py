"""The light source's accumulated on-time per head (mixed into `firmware.journal.Journal`).

Lamp hours belong to the unit's hardware, not to a process, so they live in the journal beside
the seq counter and survive restarts, SIGKILL (a committed addition is durable: WAL with
``synchronous=FULL``) and firmware updates. One row per head name (``fpi``: the halogen lamp;
``led8``: its LEDs, counted while any is on), in seconds. The table was added after schema 1
shipped: ``CREATE TABLE IF NOT EXISTS`` adds it to an older journal at open, and an older
firmware opening a newer journal just ignores it, so the schema version stays 1.

A value that is not a finite number ≥ 0 (a hand-edited or damaged row) is never repaired
silently: `lamp_seconds` raises `LampCounterError`, additions leave it alone, and
``nir-device lamp reset [--hours H]`` (a technician's decision) replaces it.
"""
from __future__ import annotations

import json
import math
import time

from ..errors import LampCounterError
from .db import JournalDb

#: The event a counter change journals in its own transaction: (kind, severity, code, message, detail).
Event = tuple[str, str, str, str, dict]


class LampMixin(JournalDb):
    def lamp_seconds(self, head: str) -> float | None:
        """Accumulated on-time of ``head``'s light source; None if no counter exists for it yet;
        `LampCounterError` naming the stored value if it is not a finite number ≥ 0."""
        rows = self._read("SELECT seconds, typeof(seconds) FROM lamp_hours WHERE head = ?", (head,))
        if not rows:
            return None
        value, kind = rows[0]
        if kind not in ("real", "integer") or not math.isfinite(value) or value < 0:
            raise LampCounterError(
                f"{self.path}: lamp hour counter of the {head} head holds {value!r} ({kind}), not a number of "
                f"seconds ≥ 0 — set it with `nir-device lamp reset --hours H` (H from the lamp's service log, "
                f"0 for a new lamp)")
        return float(value)

    def lamp_counter(self, head: str) -> dict | None:
        """``{head, seconds, since, reset_at}`` as stored (``seconds`` unchecked), or None."""
        rows = self._read("SELECT head, seconds, since, reset_at FROM lamp_hours WHERE head = ?", (head,))
        return dict(zip(("head", "seconds", "since", "reset_at"), rows[0])) if rows else None

    def lamp_counters(self) -> list[dict]:
        """Every head's counter as stored (``seconds`` unchecked), by head name."""
        rows = self._read("SELECT head, seconds, since, reset_at FROM lamp_hours ORDER BY head")
        return [dict(zip(("head", "seconds", "since", "reset_at"), row)) for row in rows]

    def start_lamp_counter(self, head: str, event: Event) -> int | None:
        """Create ``head``'s counter at 0 and journal ``event`` with it, in one transaction, if
        there is none yet (another process may have created it first); the event id or None."""
        now = time.time()
        with self._write() as con:
            cur = con.execute("INSERT OR IGNORE INTO lamp_hours (head, seconds, since) VALUES (?, 0.0, ?)",
                              (head, now))
            if cur.rowcount == 0:
                return None
            return self._insert_event(con, now, event)

    def add_lamp_seconds(self, head: str, seconds: float) -> bool:
        """Add on-time to ``head``'s counter; False if there is no usable counter (absent or
        corrupt: nothing is written then). Additive in SQL, so a reset by another process in
        between is kept and the addition counts towards the new lamp."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"lamp on-time to add must be finite and >= 0, got {seconds!r}")
        with self._write() as con:
            cur = con.execute(
                "UPDATE lamp_hours SET seconds = seconds + ? WHERE head = ? AND typeof(seconds) IN "
                "('real', 'integer') AND seconds >= 0 AND seconds < 1e300", (float(seconds), head))
            return cur.rowcount == 1

    def set_lamp_seconds(self, head: str, seconds: float, event: Event) -> int:
        """Set ``head``'s counter (a new lamp: 0) and journal ``event``, in one transaction; the event id."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"lamp seconds must be finite and >= 0, got {seconds!r}")
        now = time.time()
        with self._write() as con:
            con.execute("INSERT INTO lamp_hours (head, seconds, since, reset_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(head) DO UPDATE SET seconds = excluded.seconds, since = excluded.since, "
                        "reset_at = excluded.reset_at", (head, float(seconds), now, now))
            return self._insert_event(con, now, event)

    def event_row(self, event_id: int) -> dict | None:
        """One journaled event as `events` returns it."""
        keys = ("id", "unix", "kind", "severity", "code", "message", "detail", "published_at")
        rows = self._read("SELECT id, unix, kind, severity, code, message, detail, published_at FROM events "
                          "WHERE id = ?", (int(event_id),))
        if not rows:
            return None
        item = dict(zip(keys, rows[0]))
        item["detail"] = json.loads(item["detail"])
        return item

    @staticmethod
    def _insert_event(con, now: float, event: Event) -> int:
        kind, severity, code, message, detail = event
        cur = con.execute(
            "INSERT INTO events (unix, kind, severity, code, message, detail) VALUES (?,?,?,?,?,?)",
            (now, kind, severity, code, message, json.dumps(detail or {}, allow_nan=False)))
        return int(cur.lastrowid)
