"""How other parts of the device hear about what the runtime did: small observer lists.

The MQTT link must learn of every new result and event (to publish it), the status page of
every state change (to push it to open pages). Both live in other threads and may not exist in
a given process, so the runtime only calls listeners; it never imports them.

- ``result``: ``listener(record)`` after a result is committed to the journal (any trigger).
- ``event``: ``listener(event)`` after an event is committed (``id, unix, time, kind, severity,
  code, message, detail`` — the row `Journal.events` returns, without ``published_at``).
- ``refused``: ``listener({trigger, action, reason})`` when a trigger was refused (busy, not
  ready) and nobody waits for the answer (the button).

Listeners run on the thread that did the work, right after the commit. They must only note the
change (set an event, put on a queue) and return: a slow listener delays the next measurement.
An exception in a listener is logged and swallowed — a broken link must not fail a result that
is already stored. Both journaled things also stay in the journal (outbox, unpublished events),
so a listener that missed one finds it there.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from .journal import Journal
from .record import utc_now_rfc3339

log = logging.getLogger(__name__)

KINDS = ("result", "event", "refused")
Listener = Callable[[dict[str, Any]], None]


class Hooks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Listener]] = {k: [] for k in KINDS}

    def subscribe(self, kind: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(payload)`` on every ``kind``; returns the unsubscribe function."""
        if kind not in self._listeners:
            raise ValueError(f"unknown hook {kind!r}; known: {', '.join(KINDS)}")
        with self._lock:
            self._listeners[kind].append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners[kind]:
                    self._listeners[kind].remove(listener)
        return unsubscribe

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners[kind])
        for listener in listeners:
            try:
                listener(payload)
            except Exception:  # noqa: BLE001 - see the module docstring
                log.exception("%s listener %r failed", kind, listener)


class ObservedJournal(Journal):
    """The journal, announcing every committed result and event to `Hooks`.

    Announcing here rather than in the measurement pipeline catches every writer in the
    process (measurements, references' events, model installs, the link's own events) with
    one rule: a listener hears of a thing only once it is durable.
    """

    hooks: Hooks

    @classmethod
    def open_with(cls, state_dir, hooks: Hooks, *, busy_timeout_s: float = 10.0) -> "ObservedJournal":
        journal = cls.open(state_dir, busy_timeout_s=busy_timeout_s)
        journal.hooks = hooks
        return journal

    def append_result(self, make_record, *, consume_tags=None):
        record = super().append_result(make_record, consume_tags=consume_tags)
        self.hooks.emit("result", record)
        return record

    def add_event(self, kind: str, severity: str, code: str, message: str,
                  detail: dict | None = None, time_s: float | None = None) -> int:
        unix = time.time() if time_s is None else time_s
        event_id = super().add_event(kind, severity, code, message, detail, unix)
        self._announce({"id": event_id, "unix": unix, "kind": kind, "severity": severity, "code": code,
                        "message": message, "detail": dict(detail or {})})
        return event_id

    def _announce(self, row: dict) -> None:
        unix = row["unix"]
        self.hooks.emit("event", {"id": row["id"], "unix": unix,
                                  "time": utc_now_rfc3339(datetime.fromtimestamp(unix, timezone.utc)),
                                  "kind": row["kind"], "severity": row["severity"], "code": row["code"],
                                  "message": row["message"], "detail": dict(row.get("detail") or {})})

    def _announce_id(self, event_id: int | None) -> int | None:
        """Announce an event another write journaled in its own transaction (lamp counter changes)."""
        row = self.event_row(event_id) if event_id is not None else None
        if row is not None:
            self._announce(row)
        return event_id

    def start_lamp_counter(self, head, event):
        return self._announce_id(super().start_lamp_counter(head, event))

    def set_lamp_seconds(self, head, seconds, event):
        return self._announce_id(super().set_lamp_seconds(head, seconds, event))
