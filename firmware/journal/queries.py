"""Queries for the status page and stats, references and events (mixed into `Journal`)."""
from __future__ import annotations

import json
import time
from typing import Any, Iterable, Iterator

from ..contracts import VERDICTS
from .db import SUMMARY_COLUMNS, JournalDb, to_unix


class QueriesMixin(JournalDb):
    """Read-mostly access: history and counts for the page, references and events for the runtime."""

    def _filters(self, verdict: str | None, since: Any, until: Any, merchant: str | None,
                 before_seq: int | None = None, model: str | None = None) -> tuple[str, list[Any]]:
        where, params = [], []
        if verdict and verdict not in VERDICTS:
            raise ValueError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        if verdict:
            where.append("verdict = ?")
            params.append(verdict)
        if since is not None:
            where.append("unix >= ?")
            params.append(to_unix(since))
        if until is not None:
            where.append("unix < ?")
            params.append(to_unix(until))
        if merchant:
            where.append("merchant = ?")
            params.append(merchant)
        if before_seq is not None:
            where.append("seq < ?")
            params.append(int(before_seq))
        if model:
            where.append("model_name = ?")
            params.append(model)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def history(self, limit: int = 50, *, before_seq: int | None = None, verdict: str | None = None,
                since: Any = None, until: Any = None, merchant: str | None = None) -> list[dict]:
        """Summary rows (`SUMMARY_COLUMNS`), newest first; page with ``before_seq`` = last row's seq.

        ``since``/``until`` filter on the result's time (``until`` exclusive); ``merchant``
        matches case-insensitively.
        """
        where, params = self._filters(verdict, since, until, merchant, before_seq)
        rows = self._read(f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM results{where} "
                          f"ORDER BY seq DESC LIMIT ?", params + [int(limit)])
        out = []
        for row in rows:
            item = dict(zip(SUMMARY_COLUMNS, row))
            item["degradable"] = None if item["degradable"] is None else bool(item["degradable"])
            out.append(item)
        return out

    def count(self, *, verdict: str | None = None, since: Any = None, until: Any = None,
              merchant: str | None = None) -> int:
        where, params = self._filters(verdict, since, until, merchant)
        return self._read(f"SELECT count(*) FROM results{where}", params)[0][0]

    def counts_by_verdict(self, *, since: Any = None, until: Any = None) -> dict[str, int]:
        where, params = self._filters(None, since, until, None)
        return dict(self._read(f"SELECT verdict, count(*) FROM results{where} GROUP BY verdict", params))

    def counts_by_reason(self, *, since: Any = None, until: Any = None) -> dict[str, int]:
        """Rejections by reason code (``dark``, ``saturated``, …)."""
        where, params = self._filters("rejected", since, until, None)
        return dict(self._read(f"SELECT reason_code, count(*) FROM results{where} GROUP BY reason_code",
                               params))

    def iter_records(self, *, verdict: str | None = None, since: Any = None, until: Any = None,
                     merchant: str | None = None, model: str | None = None, raw: bool = False,
                     batch: int = 200) -> Iterator[dict] | Iterator[str]:
        """Full records in seq order, fetched in batches so an export never loads the whole journal.

        ``raw``: yield the stored JSON text (the exact signed bytes) instead of parsed dicts.
        """
        where, params = self._filters(verdict, since, until, merchant, model=model)
        last = 0
        while True:
            cond = (where + " AND" if where else " WHERE") + " seq > ?"
            rows = self._read(f"SELECT seq, record FROM results{cond} ORDER BY seq LIMIT ?",
                              params + [last, batch])
            if not rows:
                return
            for seq, payload in rows:
                yield payload if raw else json.loads(payload)
            last = rows[-1][0]

    def grids(self, *, verdict: str | None = None, since: Any = None, until: Any = None,
              merchant: str | None = None, model: str | None = None) -> dict[tuple[float, ...], int]:
        """Wavelength grids of the matching results and how many results use each."""
        where, params = self._filters(verdict, since, until, merchant, model=model)
        rows = self._read(f"SELECT json_extract(record, '$.wavelengths_nm') AS g, count(*) FROM results{where} "
                          f"GROUP BY g", params)
        return {tuple(json.loads(g)): n for g, n in rows}

    # --- references and events ----------------------------------------------------------------

    def save_reference(self, kind: str, head: str, unix: float, temperature_c: float | None,
                       data: dict) -> int:
        """Store a reference reading (its meaning is `firmware.references`'); returns its id."""
        with self._write() as con:
            cur = con.execute("INSERT INTO refs (kind, head, unix, temperature_c, data) VALUES (?,?,?,?,?)",
                              (kind, head, unix, temperature_c, json.dumps(data, allow_nan=False)))
            return int(cur.lastrowid)

    def latest_reference(self, kind: str, head: str | None = None) -> dict | None:
        """The newest reference of ``kind`` (for ``head`` if given) as ``{id, kind, head, unix,
        temperature_c, data}``."""
        sql = "SELECT id, kind, head, unix, temperature_c, data FROM refs WHERE kind = ?"
        params: list[Any] = [kind]
        if head is not None:
            sql += " AND head = ?"
            params.append(head)
        rows = self._read(sql + " ORDER BY id DESC LIMIT 1", params)
        if not rows:
            return None
        rid, kind, head, unix, temp, data = rows[0]
        return {"id": rid, "kind": kind, "head": head, "unix": unix, "temperature_c": temp,
                "data": json.loads(data)}

    def add_event(self, kind: str, severity: str, code: str, message: str,
                  detail: dict | None = None, time_s: float | None = None) -> int:
        """Journal an event (fault, reference, model, …) so it survives until the link publishes it."""
        with self._write() as con:
            cur = con.execute(
                "INSERT INTO events (unix, kind, severity, code, message, detail) VALUES (?,?,?,?,?,?)",
                (time.time() if time_s is None else time_s, kind, severity, code, message,
                 json.dumps(detail or {}, allow_nan=False)))
            return int(cur.lastrowid)

    def events(self, limit: int = 100, *, unpublished: bool = False, kind: str | None = None) -> list[dict]:
        """Events newest first (``unpublished``: oldest first, the order to publish them in)."""
        where, params = [], []
        if unpublished:
            where.append("published_at IS NULL")
        if kind:
            where.append("kind = ?")
            params.append(kind)
        sql = "SELECT id, unix, kind, severity, code, message, detail, published_at FROM events"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        sql += f" ORDER BY id {'ASC' if unpublished else 'DESC'} LIMIT ?"
        keys = ("id", "unix", "kind", "severity", "code", "message", "detail", "published_at")
        out = []
        for row in self._read(sql, params + [int(limit)]):
            item = dict(zip(keys, row))
            item["detail"] = json.loads(item["detail"])
            out.append(item)
        return out

    def mark_events_published(self, ids: Iterable[int], time_s: float | None = None) -> None:
        t = time.time() if time_s is None else time_s
        with self._write() as con:
            con.executemany("UPDATE events SET published_at = ? WHERE id = ?", [(t, int(i)) for i in ids])


