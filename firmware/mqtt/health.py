"""Everything the unit says about itself: birth, calibration, stats, events, and the outbox alarm.

Runs on the link's thread (no locks), like `firmware.mqtt.outbox`:

- **birth** (retained, ``plastinir.birth/1``) on every connection, and again whenever what it
  says changes (a model installed by command or page, a new calibration id);
- **calibration** (retained): whatever ``runtime.calibration()`` returns, on every connection and
  when it changes; ``None`` (no certificate installed) publishes nothing;
- **stats** (``plastinir.stats/1``, QoS 0) every ``mqtt.stats_interval_s``;
- **events**: journaled events (``Journal.events(unpublished=True)``, oldest first) on
  ``event/<kind>``, marked published only after PUBACK, so an event survives a lost connection
  or a restart in the journal like a result does;
- **alarm**: ``event/link`` ``outbox-stale`` (warning past ``mqtt.alarm_after_s``, error past
  4 ×) when the oldest unacknowledged result gets too old — checked whether or not the link is
  up, because a unit that cannot reach its broker is exactly the case — and ``outbox-ok``
  once it recovers.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any, Callable

from ..signing import canonical_json
from . import payloads

log = logging.getLogger(__name__)

#: ``publish(leaf, payload, qos, retain) -> mid | None``.
Publish = Callable[..., "int | None"]
_KIND = re.compile(r"^[a-z0-9_-]{1,40}$")
#: How often birth and calibration are compared with what was published (cheap calls).
CHECK_INTERVAL_S = 1.0
#: Unpublished events fetched per pass.
EVENT_BATCH = 50


class HealthPublisher:
    def __init__(self, runtime: Any, *, qos: int, stats_interval_s: float, alarm_after_s: float,
                 resend_after_s: float, publish: Publish, count: Callable[..., None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.unit = runtime.identity.unit
        self.qos = qos
        self.stats_interval_s = stats_interval_s
        self.alarm_after_s = alarm_after_s
        self.resend_after_s = resend_after_s
        self.publish = publish
        self.count = count
        self.clock = clock
        self.event_mids: dict[int, int] = {}          # mid → event id, waiting for PUBACK
        self._retry_at: dict[int, float] = {}          # event id → when a refused publish may go again
        self._birth: dict | None = None
        self._calibration: bytes | None = None
        self._next_stats = 0.0
        self._next_check = 0.0
        self._alarm: str | None = None
        #: Unpublished events may exist: query the journal on the next pass.
        self.events_dirty = True

    def connected(self) -> None:
        """A new connection: retained topics and stats go out again (a broker restarted without
        persistence has forgotten the retained ones)."""
        self._birth = None
        self._calibration = None
        self._next_stats = 0.0
        self._next_check = 0.0
        self.events_dirty = True

    def new_client(self) -> None:
        self.event_mids.clear()
        self.events_dirty = True

    def puback(self, mid: int, ok: bool) -> bool:
        event_id = self.event_mids.pop(mid, None)
        if event_id is None:
            return False
        if ok:
            self.runtime.journal.mark_events_published([event_id])
            self.count("events_published")
        else:
            self._retry_at[event_id] = self.clock() + self.resend_after_s
            self.events_dirty = True
        return True

    # --- one pass of the link's thread --------------------------------------------------------

    def step(self, connected: bool) -> None:
        now = self.clock()
        check = now >= self._next_check
        if check:
            self._next_check = now + CHECK_INTERVAL_S
            self._check_alarm()
        if not connected:
            return
        if check or self._birth is None:
            self._publish_birth()
            self._publish_calibration()
        if now >= self._next_stats:
            self._next_stats = now + self.stats_interval_s
            self._publish_stats()
        if self.events_dirty or (self._retry_at and min(self._retry_at.values()) <= now):
            self._publish_events(now)

    def next_due(self, connected: bool) -> float:
        """Seconds until this needs a pass without being woken (periodic checks; stats when connected)."""
        due = min(self._next_stats, self._next_check) if connected else self._next_check
        return max(0.0, due - self.clock())

    def _publish_birth(self) -> None:
        doc = payloads.birth(self.runtime)
        if doc == self._birth:
            return
        if self.publish("birth", payloads.dumps(payloads.with_time(doc)), qos=1, retain=True) is not None:
            self._birth = doc
            self.count("births")

    def _publish_calibration(self) -> None:
        certificate = self.runtime.calibration()
        if certificate is None:
            return
        body = canonical_json(certificate)
        if body == self._calibration:
            return
        if self.publish("calibration", body, qos=1, retain=True) is not None:
            self._calibration = body
            self.count("calibrations_published")

    def _publish_stats(self) -> None:
        if self.publish("stats", payloads.dumps(payloads.stats(self.runtime)), qos=0) is not None:
            self.count("stats_published")

    def _publish_events(self, now: float) -> None:
        waiting = set(self.event_mids.values())
        rows = self.runtime.journal.events(EVENT_BATCH, unpublished=True)
        self.events_dirty = len(rows) >= EVENT_BATCH
        for row in rows:
            if row["id"] in waiting or self._retry_at.get(row["id"], 0.0) > now:
                continue
            if not _KIND.match(str(row["kind"])):
                log.error("event %s has kind %r, which cannot be a topic level; not published", row["id"], row["kind"])
                self.runtime.journal.mark_events_published([row["id"]])
                continue
            self._retry_at.pop(row["id"], None)
            mid = self.publish(f"event/{row['kind']}", payloads.dumps(payloads.event(self.unit, row)), qos=self.qos)
            if mid is None:
                self.events_dirty = True
                return
            self.event_mids[mid] = row["id"]

    def _check_alarm(self) -> None:
        journal = self.runtime.journal
        age = journal.oldest_unacked_age()
        level = None
        if age is not None and age >= self.alarm_after_s:
            level = "error" if age >= 4 * self.alarm_after_s else "warning"
        if level == self._alarm:
            return
        previous, self._alarm = self._alarm, level
        if level is None:
            if previous is not None:
                journal.add_event("link", "info", "outbox-ok", "every result older than the alarm age has "
                                  "reached the bureau's database", {"outbox_depth": journal.depth()})
            return
        depth = journal.depth()
        journal.add_event("link", level, "outbox-stale",
                          f"the oldest result not yet stored by the bureau is {age:.0f} s old (alarm after "
                          f"{self.alarm_after_s:g} s; {depth} result(s) waiting)",
                          {"oldest_unacked_age_s": round(age, 1), "outbox_depth": depth,
                           "alarm_after_s": self.alarm_after_s})
        self.count("alarms")
