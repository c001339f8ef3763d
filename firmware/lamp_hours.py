"""Lamp hours: how long the unit's light source has been on, kept in the journal.

The halogen lamp of the ``fpi`` head has a rated life, and a technician replacing it wants to
know its hours; for the ``led8`` head the same figure counts *LED hours* (time any LED is on).
The head counts its own on-time where it switches the light, on the board's clock
(`firmware.heads.base.OpticalHead.light_on_s`: seconds since that head object was opened; in
the simulator this is simulated time, so a simulated measurement adds the lamp time a real one
would). This meter turns those per-head-object seconds into the unit's running total: it
remembers how much of the attached head's count is already in the journal and adds only the
difference (`firmware.journal.lamp`, additive in SQL, so a ``nir-device lamp reset`` from
another process is never overwritten).

When the total is written (each write is one short fsync'ed transaction):

- after every journaled result (the runtime's ``result`` hook): a measurement's lamp time is
  durable with its record;
- after any other reading (reference, self-test, technician scan) once `PERSIST_EVERY_S` have
  passed since the last write, so a burst of readings is not a burst of fsyncs;
- when the hardware is closed or reopened, at the idle refresh, and at close.

So a SIGKILL loses at most the light time since the last write: the reading in progress plus
references taken within the last `PERSIST_EVERY_S` — seconds of lamp time against a life of
thousands of hours. `hours` adds the not-yet-written part, so the figure shown never lags.

With ``head.<name>.light_service_hours`` set, the first write that reaches it (or a start that
finds it reached) journals a ``maintenance`` warning ``lamp-service-due``; after a reset it can
warn again.

No counter for the head yet (a new state directory, or a journal from before lamp hours
existed): it starts at 0 with a ``maintenance`` event ``lamp-counter-started`` that says the
lamp's earlier hours are unknown. A corrupt stored value is never guessed over: `hours` raises
`LampCounterError` (the page says "not available", MQTT stats carry null), nothing is added
to it, a ``maintenance`` warning says so at start, and ``nir-device lamp reset --hours H`` is
the repair.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from .errors import JournalError, LampCounterError
from .heads.base import OpticalHead

log = logging.getLogger(__name__)

#: Minimum wall time between two writes of on-time noted after a reading that is not a result.
PERSIST_EVERY_S = 10.0
#: What each head's light source is, for messages (led8: LED hours, the time any LED is on).
LIGHT_SOURCE = {"fpi": "halogen lamp", "led8": "LED"}


def light_source(head: str) -> str:
    return LIGHT_SOURCE.get(head, "light source")


def reset_lamp(journal, head: str, hours: float = 0.0, *, by: str = "nir-device lamp reset",
               note: str | None = None) -> dict[str, Any]:
    """Set ``head``'s counter to ``hours`` (a new lamp: 0) and journal a ``maintenance`` event
    ``lamp-reset`` with the value it replaced, in one transaction. Works on a corrupt counter
    (that is how it is repaired). Returns ``{head, hours, previous_hours, event_id}``."""
    try:
        before = journal.lamp_seconds(head)
        previous = None if before is None else round(before / 3600.0, 4)
        previous_raw = None
    except LampCounterError:
        previous, previous_raw = None, repr((journal.lamp_counter(head) or {}).get("seconds"))
    seconds = float(hours) * 3600.0
    detail = {"head": head, "hours": float(hours), "previous_hours": previous, "by": by}
    if previous_raw is not None:
        detail["previous_corrupt_value"] = previous_raw
    if note:
        detail["note"] = note
    was = f"{previous:.1f} h" if previous is not None else ("a corrupt value" if previous_raw else "no counter")
    event_id = journal.set_lamp_seconds(head, seconds, (
        "maintenance", "info", "lamp-reset",
        f"{light_source(head)} hour counter of the {head} head set to {float(hours):g} h (was {was})", detail))
    return {"head": head, "hours": float(hours), "previous_hours": previous, "event_id": event_id}


class LampMeter:
    """The unit's lamp-hour total for the head named ``head.name``; see the module docstring.

    ``head`` is the runtime's `firmware.unit_head.UnitHead` (or any head with ``name``,
    ``light_on_s()`` and ``current``); readings of whichever head object is attached are noted
    through `note`. Thread-safe: the measuring thread notes, the page and MQTT threads read.
    """

    def __init__(self, journal, head, *, service_hours: float | None = None,
                 persist_every_s: float = PERSIST_EVERY_S, wall: Callable[[], float] = time.monotonic) -> None:
        self.journal = journal
        self.head = head
        self.name = head.name
        self.service_hours = service_hours
        self._due_warned = False
        self.persist_every_s = persist_every_s
        self._wall = wall
        self._lock = threading.Lock()
        self._source: OpticalHead | None = None  # the head object whose count `_seen` belongs to
        self._seen = 0.0                         # its on-seconds already added to the journal
        self._written_at = wall()
        self._warned = False

    def open(self) -> None:
        """Make sure the counter exists (start at 0 with an event) and warn once if it is corrupt."""
        try:
            if self.journal.lamp_seconds(self.name) is None:
                self.journal.start_lamp_counter(self.name, (
                    "maintenance", "info", "lamp-counter-started",
                    f"{light_source(self.name)} hour counter of the {self.name} head started at 0 h: hours before "
                    f"this state directory (or this firmware) are unknown — set them with `nir-device lamp reset "
                    f"--hours H` if the lamp's service log has them", {"head": self.name, "hours": 0.0}))
        except LampCounterError as exc:
            self._warn_corrupt(exc)
            return
        self._check_due()

    def _check_due(self) -> None:
        """One ``lamp-service-due`` warning per crossing of `service_hours` (re-armed below it)."""
        if self.service_hours is None:
            return
        try:
            hours = (self.journal.lamp_seconds(self.name) or 0.0) / 3600.0
        except JournalError:
            return  # corrupt or unreadable: said elsewhere
        due = hours >= self.service_hours
        if due and not self._due_warned:
            try:
                self.journal.add_event(
                    "maintenance", "warning", "lamp-service-due",
                    f"{light_source(self.name)} of the {self.name} head has {hours:.1f} h, past its service life of "
                    f"{self.service_hours:g} h: replace it, then `nir-device lamp reset`",
                    {"head": self.name, "hours": round(hours, 4), "service_hours": self.service_hours})
            except JournalError as exc:
                log.error("cannot journal the lamp service warning: %s", exc)
                return
        self._due_warned = due

    def _warn_corrupt(self, exc: Exception) -> None:
        if self._warned:
            return
        self._warned = True
        log.warning("%s", exc)
        try:
            self.journal.add_event("maintenance", "warning", "lamp-counter-corrupt",
                                   f"lamp hours are not counted: {exc}", {"head": self.name})
        except JournalError as err:
            log.error("cannot journal the lamp counter warning: %s", err)

    def _pending(self, head: OpticalHead | None) -> tuple[float | None, float]:
        """(that head's on-seconds now, of which not yet written); under the lock."""
        on = head.light_on_s() if head is not None else None
        if on is None:
            return None, 0.0
        seen = self._seen if head is self._source else 0.0
        return on, max(on - seen, 0.0)

    def note(self, head: OpticalHead | None = None, *, force: bool = True) -> None:
        """Write the on-time ``head`` (default: the one attached) added since the last write;
        without ``force`` only if `persist_every_s` have passed. A failed write is retried at
        the next note; on-time for a corrupt counter is dropped (see the module docstring)."""
        head = head if head is not None else self.head.current
        with self._lock:
            on, delta = self._pending(head)
            if on is None:
                return
            if head is not self._source:
                self._source, self._seen = head, 0.0
            if delta <= 0.0:
                return
            now = self._wall()
            if not force and now - self._written_at < self.persist_every_s:
                return
            try:
                added = self.journal.add_lamp_seconds(self.name, delta)
            except JournalError as exc:
                log.warning("lamp hours not written (retried at the next reading): %s", exc)
                return
            self._seen, self._written_at = on, now
        if added:
            self._check_due()
            return
        try:
            self.journal.lamp_seconds(self.name)
        except LampCounterError as exc:
            self._warn_corrupt(exc)
        except JournalError as exc:
            log.warning("lamp hour counter unreadable: %s", exc)
        else:  # the row went missing under us (a hand-edited journal): start again at 0
            try:
                self.open()
            except JournalError as exc:
                log.warning("lamp hour counter cannot be started: %s", exc)

    def on_reading(self, head: OpticalHead) -> None:
        """`UnitHead`'s hook after every reading (throttled write)."""
        self.note(head, force=False)

    def seconds(self) -> float | None:
        """Total on-seconds: the journal's plus what the attached head has not written yet.
        None if there is no counter; `LampCounterError` if it is corrupt."""
        stored = self.journal.lamp_seconds(self.name)
        if stored is None:
            return None
        with self._lock:
            _, pending = self._pending(self.head.current)
        return stored + pending

    def hours(self) -> float | None:
        """`seconds` in hours (what the page, /metrics and MQTT stats show)."""
        seconds = self.seconds()
        return None if seconds is None else seconds / 3600.0
