"""Connection handling, schema and counters of the journal (see `firmware.journal`).

Each thread gets its own SQLite connection (the acquisition loop, the MQTT link and the page's
server threads all share one `Journal`); every write is a short ``BEGIN IMMEDIATE``
transaction, so two processes queue on the write lock instead of deadlocking on an upgrade.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import JournalError

JOURNAL_FILE = "journal.db"
SCHEMA_VERSION = 1
SEQ_MAX = 2**63 - 1
#: Rows deleted per retention transaction: keeps every write transaction short.
PURGE_BATCH = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, time TEXT NOT NULL, unix REAL NOT NULL,
    verdict TEXT NOT NULL, reason TEXT, reason_code TEXT, class TEXT, degradable INTEGER,
    confidence REAL, sample_id TEXT, merchant TEXT COLLATE NOCASE, location TEXT,
    model_name TEXT, stored_at REAL NOT NULL, acked_at REAL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_unix ON results(unix);
CREATE INDEX IF NOT EXISTS results_verdict ON results(verdict, unix);
CREATE INDEX IF NOT EXISTS results_merchant ON results(merchant, unix);
CREATE INDEX IF NOT EXISTS results_sample ON results(sample_id);
CREATE INDEX IF NOT EXISTS results_acked ON results(acked_at, seq);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY REFERENCES results(seq), enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_sent REAL);
CREATE TABLE IF NOT EXISTS purged (lo INTEGER NOT NULL, hi INTEGER NOT NULL, purged_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, head TEXT NOT NULL, unix REAL NOT NULL,
    temperature_c REAL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS refs_kind ON refs(kind, head, id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, unix REAL NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    code TEXT NOT NULL, message TEXT NOT NULL, detail TEXT NOT NULL, published_at REAL);
CREATE TABLE IF NOT EXISTS lamp_hours (
    head TEXT PRIMARY KEY, seconds REAL NOT NULL CHECK (seconds >= 0), since REAL NOT NULL, reset_at REAL);
CREATE TABLE IF NOT EXISTS pending_tags (
    slot INTEGER PRIMARY KEY CHECK (slot = 1), id TEXT NOT NULL, sample TEXT NOT NULL, source TEXT NOT NULL,
    set_at REAL NOT NULL, expires_at REAL NOT NULL);
"""

#: Columns of a history row (the summary the status page lists; the full record via `get`).
SUMMARY_COLUMNS = ("seq", "uuid", "time", "verdict", "reason", "reason_code", "class", "degradable",
                   "confidence", "sample_id", "merchant", "location", "model_name", "acked_at")


def to_unix(value: float | int | str | datetime | None) -> float | None:
    """Accept unix seconds, a datetime or an ISO/RFC 3339 string (``2026-11-27``, ``…T08:31:08Z``)."""
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not a date or RFC 3339 time (e.g. 2026-11-27 or "
                             f"2026-11-27T08:31:08Z)") from None
    if value.tzinfo is None:  # a bare date/time means UTC: the journal's times are UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def _ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted seqs → inclusive runs: [1, 2, 3, 7] → [(1, 3), (7, 7)]."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return [(a, b) for a, b in out]


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or adjacent inclusive ranges."""
    out: list[list[int]] = []
    for lo, hi in sorted((int(a), int(b)) for a, b in ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


class JournalDb:
    """The database file, its connections and transactions; `Journal` adds the content."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        con = self._conn()
        try:
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a usable SQLite journal: {exc}") from exc
        if mode.lower() != "wal":
            raise JournalError(f"{self.path}: cannot switch the journal to WAL mode (got {mode!r})")
        with self._write() as c:
            # statement by statement: executescript() would COMMIT the open transaction
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                c.execute(stmt)
            row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                c.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise JournalError(f"{self.path}: journal schema {row[0]} is newer than this firmware's "
                                   f"({SCHEMA_VERSION}); update the firmware")

    @classmethod
    def open(cls, state_dir: str | Path, *, busy_timeout_s: float = 10.0):
        return cls(Path(state_dir) / JOURNAL_FILE, busy_timeout_s=busy_timeout_s)

    # --- connections and transactions ------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise JournalError(f"{self.path}: journal is closed")
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                con = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                      check_same_thread=False)
                con.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
                con.execute("PRAGMA synchronous=FULL")
                con.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot open the journal: {exc}") from exc
            self._local.con = con
            with self._all_lock:
                self._all.append(con)
        return con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taken IMMEDIATE so two writers queue instead of deadlocking."""
        con = self._conn()
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot start a write (another process held it for more "
                               f"than {self.busy_timeout_s:g} s?): {exc}") from exc
        try:
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                raise JournalError(f"{self.path}: write failed and was rolled back: {exc}") from exc
            raise

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        try:
            return self._conn().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: read failed: {exc}") from exc

    def close(self) -> None:
        """Close every thread's connection (WAL is checkpointed by the last one to close)."""
        with self._all_lock:
            for con in self._all:
                try:
                    con.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def integrity_check(self) -> str:
        """SQLite's full ``PRAGMA integrity_check``: ``"ok"`` or the problems it found."""
        return "; ".join(r[0] for r in self._read("PRAGMA integrity_check"))

    # --- counters ----------------------------------------------------------------------------

    def _bump(self, con: sqlite3.Connection, name: str) -> int:
        row = con.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
        value = row[0] if row else 0
        if value >= SEQ_MAX:
            raise JournalError(f"{self.path}: counter {name!r} is at its maximum {SEQ_MAX}; refusing "
                               f"to wrap (a repeated seq would overwrite a result at the bureau)")
        con.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                    (name, value + 1))
        return value + 1

    def increment_counter(self, name: str) -> int:
        """Persistently count something (e.g. process starts); returns the new value."""
        with self._write() as con:
            return self._bump(con, name)

    def counter(self, name: str) -> int:
        rows = self._read("SELECT value FROM counters WHERE name=?", (name,))
        return rows[0][0] if rows else 0

    def last_seq(self) -> int:
        """The highest seq ever allocated (0 for a fresh journal), purged or not."""
        return self.counter("seq")

