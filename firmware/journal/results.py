"""Results, the MQTT outbox and retention (mixed into `firmware.journal.Journal`)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import JournalError
from ..signing import canonical_json
from .db import PURGE_BATCH, JournalDb, _merge, _ranges, to_unix


@dataclass(frozen=True)
class OutboxEntry:
    """A result waiting for the bureau's acknowledgement; ``payload`` is the exact JSON to publish."""

    seq: int
    attempts: int
    last_sent: float | None
    enqueued_at: float
    payload: str

    @property
    def record(self) -> dict:
        return json.loads(self.payload)


def _reason_code(record: dict) -> str | None:
    reason = record.get("reason")
    if record.get("verdict") == "rejected" and reason:
        return reason.split(":", 1)[0].strip()
    return None


class ResultsMixin(JournalDb):
    """Results and their outbox entries are written together; retention never touches the outbox."""

    def append_result(self, make_record: Callable[[int], dict], *, consume_tags: str | None = None) -> dict:
        """Allocate the next seq, build the record with it, store it and queue it: one transaction.

        ``make_record(seq)`` returns the signed record (it runs inside the transaction, so keep it
        short: building and signing take well under a millisecond). If it raises, nothing is
        stored and the seq is not consumed.

        ``consume_tags``: the id of the pending tags (`firmware.journal.pending`) this record
        carries; they are deleted in the same transaction, so they are used by exactly the one
        record that is stored, and survive any measurement that stores nothing. Tags replaced or
        cleared meanwhile (another id) are left alone.
        """
        now = time.time()
        with self._write() as con:
            seq = self._bump(con, "seq")
            record = make_record(seq)
            if record.get("seq") != seq:
                raise JournalError(f"record built for seq {record.get('seq')!r}, journal allocated {seq}")
            sample = record.get("sample") or {}
            con.execute(
                "INSERT INTO results (seq, uuid, time, unix, verdict, reason, reason_code, class, degradable,"
                " confidence, sample_id, merchant, location, model_name, stored_at, record)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (seq, record["uuid"], record["time"], to_unix(record["time"]), record["verdict"],
                 record.get("reason"), _reason_code(record), record.get("class"),
                 None if record.get("degradable") is None else int(record["degradable"]),
                 record.get("confidence"), sample.get("sample_id"), sample.get("merchant"),
                 sample.get("location"), (record.get("model") or {}).get("name"), now,
                 canonical_json(record).decode("utf-8")))
            con.execute("INSERT INTO outbox (seq, enqueued_at) VALUES (?, ?)", (seq, now))
            if consume_tags is not None:
                con.execute("DELETE FROM pending_tags WHERE id = ?", (consume_tags,))
        return record

    def get_payload(self, seq: int) -> str | None:
        rows = self._read("SELECT record FROM results WHERE seq=?", (seq,))
        return rows[0][0] if rows else None

    def get(self, seq: int) -> dict | None:
        """The full signed record, or None if it never existed or was purged."""
        payload = self.get_payload(seq)
        return json.loads(payload) if payload is not None else None

    def latest(self) -> dict | None:
        rows = self._read("SELECT record FROM results ORDER BY seq DESC LIMIT 1")
        return json.loads(rows[0][0]) if rows else None

    def pending(self, limit: int = 100, *, resend_after_s: float | None = None,
                now: float | None = None) -> list[OutboxEntry]:
        """Unacknowledged results in seq order.

        With ``resend_after_s`` only those never sent or last sent at least that long ago (the
        re-send timer); without it, every unacknowledged one (the backlog after a reconnect).
        """
        sql = ("SELECT o.seq, o.attempts, o.last_sent, o.enqueued_at, r.record FROM outbox o "
               "JOIN results r ON r.seq = o.seq")
        params: list[Any] = []
        if resend_after_s is not None:
            sql += " WHERE o.last_sent IS NULL OR o.last_sent <= ?"
            params.append((time.time() if now is None else now) - resend_after_s)
        sql += " ORDER BY o.seq LIMIT ?"
        params.append(int(limit))
        return [OutboxEntry(*row) for row in self._read(sql, params)]

    def mark_sent(self, seqs: Iterable[int], time_s: float | None = None) -> None:
        """Note a publish attempt (PUBACK or not: only the bureau's ack removes an entry)."""
        t = time.time() if time_s is None else time_s
        with self._write() as con:
            con.executemany("UPDATE outbox SET attempts = attempts + 1, last_sent = ? WHERE seq = ?",
                            [(t, int(s)) for s in seqs])

    def acknowledge(self, seqs: Iterable[int], time_s: float | None = None) -> int:
        """The bureau stored these: drop them from the outbox. Unknown seqs are ignored.

        Returns how many outbox entries were removed (a repeated ack removes nothing).
        """
        t = time.time() if time_s is None else time_s
        seqs = [int(s) for s in seqs]
        with self._write() as con:
            before = con.total_changes
            con.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            removed = con.total_changes - before
            con.executemany("UPDATE results SET acked_at = ? WHERE seq = ? AND acked_at IS NULL",
                            [(t, s) for s in seqs])
        return removed

    def depth(self) -> int:
        return self._read("SELECT count(*) FROM outbox")[0][0]

    def oldest_unacked_age(self, now: float | None = None) -> float | None:
        """Seconds since the oldest unacknowledged result was stored; None when the outbox is empty."""
        oldest = self._read("SELECT min(enqueued_at) FROM outbox")[0][0]
        return None if oldest is None else max(0.0, (time.time() if now is None else now) - oldest)

    def lookup_missing(self, ranges: Iterable[tuple[int, int]], limit: int = 1000
                       ) -> tuple[list[int], list[tuple[int, int]]]:
        """For the bureau's ``missing`` ranges: (seqs still here to re-send, ranges no longer here).

        A seq above `last_seq` was never allocated and is in neither list. At most ``limit``
        seqs are returned per call; the rest come with the next ack.
        """
        last = self.last_seq()
        present: list[int] = []
        gone: list[tuple[int, int]] = []
        for lo, hi in ranges:
            lo, hi = max(1, int(lo)), min(int(hi), last)
            if lo > hi:
                continue
            have = [r[0] for r in self._read("SELECT seq FROM results WHERE seq BETWEEN ? AND ? ORDER BY seq",
                                             (lo, hi))]
            present.extend(have[: max(0, limit - len(present))])
            cursor = lo
            for s in have + [hi + 1]:
                if s > cursor:
                    gone.append((cursor, s - 1))
                cursor = s + 1
        return present, _merge(gone)

    # --- retention ----------------------------------------------------------------------------

    def apply_retention(self, max_results: int, max_age_s: float, now: float | None = None
                        ) -> list[tuple[int, int]]:
        """Purge acknowledged results older than ``max_age_s`` or beyond ``max_results``, oldest first.

        Unacknowledged results are never purged, whatever the limits. Returns the purged seq
        ranges (also recorded for `purged_ranges`). At most `PURGE_BATCH` rows go per call.
        """
        now = time.time() if now is None else now
        with self._write() as con:
            old = [r[0] for r in con.execute(
                "SELECT seq FROM results WHERE acked_at IS NOT NULL AND unix < ? "
                "AND seq NOT IN (SELECT seq FROM outbox) ORDER BY seq LIMIT ?",
                (now - max_age_s, PURGE_BATCH))]
            total = con.execute("SELECT count(*) FROM results").fetchone()[0]
            excess = total - len(old) - max_results
            if excess > 0 and len(old) < PURGE_BATCH:
                extra = con.execute(
                    "SELECT seq FROM results WHERE acked_at IS NOT NULL AND unix >= ? "
                    "AND seq NOT IN (SELECT seq FROM outbox) ORDER BY seq LIMIT ?",
                    (now - max_age_s, min(excess, PURGE_BATCH - len(old)))).fetchall()
                old += [r[0] for r in extra]
            if not old:
                return []
            con.executemany("DELETE FROM results WHERE seq = ?", [(s,) for s in old])
            runs = _ranges(old)
            con.executemany("INSERT INTO purged VALUES (?, ?, ?)", [(a, b, now) for a, b in runs])
        return runs

    def purged_ranges(self) -> list[tuple[int, int]]:
        """Every seq range retention removed, merged: what the bureau can close as lost."""
        return _merge(self._read("SELECT lo, hi FROM purged ORDER BY lo"))

