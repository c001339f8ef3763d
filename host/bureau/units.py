"""The registry of units the bureau trusts: unit id → Ed25519 public key.

A result is stored only if its signature verifies against the key registered here, so
registering a unit is a deliberate act (``nir-host units add``). Trust on first use (a lab's
convenience: the key in a unit's first ``birth`` is registered) exists only when the config
enables it. A unit is never silently re-keyed: a different key for a known unit is refused
unless ``--replace`` is given, and the replacement is logged as a bureau event.
"""
from __future__ import annotations

import json
import re
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from firmware.errors import SignatureError
from firmware.record import utc_now_rfc3339
from firmware.signing import public_key_from_b64

from .database import Database
from .errors import UnitError

UNIT_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # as firmware.record's unit field


def check_unit_id(unit: str) -> str:
    if not isinstance(unit, str) or not UNIT_PATTERN.match(unit):
        raise UnitError(f"unit id {unit!r} must be 1–64 characters of A–Z, a–z, 0–9, '.', '_', '-'")
    return unit


def check_public_key(key: str, unit: str = "") -> str:
    """The key as ``nir-device id --json`` prints it: base64 of the raw 32 bytes."""
    try:
        public_key_from_b64(key)
    except SignatureError as exc:
        raise UnitError(f"public key for {unit or 'the unit'} is not usable: {exc} "
                        "(give it as 'nir-device id --json' prints it)") from None
    return key


def bureau_event(db: Database, unit: str, code: str, message: str, severity: str = "warning",
                 detail: dict | None = None, kind: str = "registry") -> None:
    """An event the bureau itself records about a unit (source 'bureau')."""
    now = utc_now_rfc3339()
    db.execute("INSERT INTO events (unit, source, time, received_at, kind, severity, code, message, detail) "
               "VALUES (?, 'bureau', ?, ?, ?, ?, ?, ?, ?)",
               (unit, now, now, kind, severity, code, message, json.dumps(detail or {})))


def add_unit(db: Database, unit: str, public_key: str, *, registered_by: str = "cli", note: str | None = None,
             replace: bool = False) -> str:
    """Register ``unit``; returns ``'added'``, ``'unchanged'`` or ``'replaced'``.

    Runs in its own transaction unless called inside one (trust on first use in the ingester).
    """
    check_unit_id(unit)
    check_public_key(public_key, unit)

    def work() -> str:
        row = db.one("SELECT public_key FROM units WHERE unit = ?" + db.lock_rows_sql(), (unit,))
        if row is None:
            db.execute("INSERT INTO units (unit, public_key, registered_at, registered_by, note) "
                       "VALUES (?, ?, ?, ?, ?)", (unit, public_key, utc_now_rfc3339(), registered_by, note))
            bureau_event(db, unit, f"registered-{registered_by}", f"unit registered ({registered_by})",
                         severity="info" if registered_by == "cli" else "warning", detail={"public_key": public_key})
            return "added"
        if row[0] == public_key:
            return "unchanged"
        if not replace:
            raise UnitError(f"unit {unit} is already registered with another public key ({row[0]}); "
                            "use --replace to re-key it deliberately")
        db.execute("UPDATE units SET public_key = ?, registered_at = ?, registered_by = ? WHERE unit = ?",
                   (public_key, utc_now_rfc3339(), registered_by, unit))
        bureau_event(db, unit, "key-replaced", "public key replaced", detail={"old": row[0], "new": public_key})
        return "replaced"

    if db.in_transaction:
        return work()
    with db.transaction():
        return work()


def list_units(db: Database) -> list[dict]:
    rows = db.query("SELECT unit, public_key, registered_at, registered_by, note, highest_seq, last_seen, status "
                    "FROM units ORDER BY unit")
    keys = ("unit", "public_key", "registered_at", "registered_by", "note", "highest_seq", "last_seen", "status")
    return [dict(zip(keys, r)) for r in rows]


class KeyCache:
    """Registered keys by unit, parsed once; misses are re-checked after ``miss_ttl_s``.

    Keys rarely change, and the ingester verifies thousands of signatures a second, so it must
    not ask the database each time; a unit registered while the ingester runs is seen within
    ``miss_ttl_s``, a re-keyed one within ``ttl_s``.
    """

    def __init__(self, ttl_s: float = 60.0, miss_ttl_s: float = 2.0):
        self.ttl_s = ttl_s
        self.miss_ttl_s = min(miss_ttl_s, ttl_s)
        self._entries: dict[str, tuple[float, Ed25519PublicKey | None]] = {}

    def get(self, db: Database, unit: str) -> Ed25519PublicKey | None:
        now = time.monotonic()
        hit = self._entries.get(unit)
        if hit is not None and now < hit[0]:
            return hit[1]
        row = db.one("SELECT public_key FROM units WHERE unit = ?", (unit,))
        key = public_key_from_b64(row[0]) if row else None
        self._entries[unit] = (now + (self.ttl_s if key else self.miss_ttl_s), key)
        return key

    def put(self, unit: str, public_key: str) -> None:
        self._entries[unit] = (time.monotonic() + self.ttl_s, public_key_from_b64(public_key))

    def forget(self, unit: str) -> None:
        self._entries.pop(unit, None)
