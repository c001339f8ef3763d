"""A publisher that behaves like a unit's store-and-forward link, for bureau tests.

It is not the device's link (that lives in the firmware and comes with its own tests); it does
just what docs/MQTT.md asks of a unit, so the bureau can be proven against it:

- every result enters an in-memory outbox before it is published (QoS 1);
- a result leaves the outbox only when a ``plastinir.ack/1`` lists it in ``stored``;
- a result unacknowledged for ``resend_after_s`` is published again (PUBACK is not delivery);
- ``missing`` ranges are re-sent from the outbox or the journal; seqs the unit no longer has
  (`purge`) are reported with ``event/link`` ``detail.purged``.
"""
from __future__ import annotations

import json
import threading
import time
import uuid as uuidlib

import paho.mqtt.client as mqtt

from firmware.ack import parse_ack, seq_ranges
from firmware.contracts import EVENT_SCHEMA, topic
from firmware.record import sign_record, utc_now_rfc3339

from . import mqtt as mqtt_helpers


class FakeUnit:
    """One simulated unit. ``make_record(unit, seq, **changes)`` builds an unsigned record
    (tests pass ``conftest.unsigned_record``); the unit signs it with ``key``.

    Parameters
    ----------
    url : broker URL (``mqtt://`` or ``mqtts://``); ``connect_kwargs`` go to `support.mqtt.connect`
        (username, password, ca_file …).
    resend_after_s : re-publish a result not acknowledged for this long.
    """

    def __init__(self, url: str, unit_id: str, key, make_record, *, prefix: str = "plastinir",
                 resend_after_s: float = 1.0, **connect_kwargs):
        self.url = url
        self.unit = unit_id
        self.key = key
        self.make_record = make_record
        self.prefix = prefix
        self.resend_after_s = resend_after_s
        self.connect_kwargs = connect_kwargs
        self.journal: dict[int, bytes] = {}       # every result ever made (seq → payload)
        self.outbox: dict[int, float] = {}        # unacknowledged seq → last publish time
        self.purged: set[int] = set()             # seqs dropped from the journal
        self.acks: list = []                      # parsed acks, in arrival order
        self.purged_reports: list[list] = []      # detail.purged of every event/link it published
        self.publishes = 0
        self.next_seq = 1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.client: mqtt.Client | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> "FakeUnit":
        self.client = mqtt_helpers.connect(self.url, client_id=f"{self.unit}-{uuidlib.uuid4().hex[:6]}",
                                           **self.connect_kwargs)
        mqtt_helpers.subscribe(self.client, topic(self.prefix, self.unit, "ack"))
        self.client.on_message = self._on_ack  # act on acks as they come
        self.client.on_connect = self._on_connect
        self._thread = threading.Thread(target=self._resender, daemon=True, name=f"fake-{self.unit}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.client is not None:
            mqtt_helpers.close(self.client)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:  # a broker restarted without persistence forgot us
            client.subscribe(topic(self.prefix, self.unit, "ack"), 1)

    # --- results --------------------------------------------------------------------------
    def measure(self, n: int = 1, *, publish: bool = True, **changes) -> list[int]:
        """Make ``n`` signed results (journal + outbox) and publish them; returns their seqs.

        ``publish=False`` keeps them unpublished, as if taken while the link was down: they go out
        when the bureau asks for them (``missing``) or when the resend timeout expires.
        """
        seqs = []
        for _ in range(n):
            with self._lock:
                seq = self.next_seq
                self.next_seq += 1
                record = sign_record(self.make_record(self.unit, seq, **changes), self.key)
                self.journal[seq] = json.dumps(record).encode()
                self.outbox[seq] = 0.0
            if publish:
                self._publish(seq)
            else:
                with self._lock:
                    self.outbox[seq] = time.monotonic()
            seqs.append(seq)
        return seqs

    def _publish(self, seq: int) -> None:
        with self._lock:
            payload = self.journal.get(seq)
            if payload is None or seq in self.purged:
                return
            self.outbox[seq] = time.monotonic()
            self.publishes += 1
        assert self.client is not None
        self.client.publish(topic(self.prefix, self.unit, "result"), payload, qos=1)

    def publish_raw(self, leaf: str, payload: bytes | str, qos: int = 1, unit: str | None = None,
                    retain: bool = False):
        """Publish anything on ``<prefix>/<unit>/<leaf>`` (malformed payloads, other units' topics)."""
        assert self.client is not None
        return self.client.publish(topic(self.prefix, unit or self.unit, leaf), payload, qos=qos, retain=retain)

    def purge(self, seqs) -> None:
        """Drop seqs from the journal and outbox, as a journal retention limit would."""
        with self._lock:
            for s in seqs:
                self.purged.add(s)
                self.outbox.pop(s, None)

    # --- acks -----------------------------------------------------------------------------
    def _on_ack(self, client, userdata, message) -> None:
        try:
            ack = parse_ack(message.payload)
        except Exception:  # a unit ignores a malformed ack (and would log it)
            return
        resend, report = [], []
        with self._lock:
            self.acks.append(ack)
            for s in ack.stored:
                self.outbox.pop(s, None)
            for first, last in ack.missing:
                for s in range(first, last + 1):
                    if s in self.purged or s not in self.journal:
                        report.append(s)
                    elif s in self.outbox:
                        resend.append(s)
        for s in resend:
            self._publish(s)
        if report:
            event = {"schema": EVENT_SCHEMA, "unit": self.unit, "time": utc_now_rfc3339(), "kind": "link",
                     "severity": "warning", "code": "purged", "message": "results purged before delivery",
                     "detail": {"purged": [list(r) for r in seq_ranges(report)]}}
            client.publish(topic(self.prefix, self.unit, "event/link"), json.dumps(event), qos=1)
            self.purged_reports.append(event["detail"]["purged"])

    def _resender(self) -> None:
        while not self._stop.wait(0.05):
            now = time.monotonic()
            with self._lock:
                due = sorted(s for s, t in self.outbox.items() if now - t >= self.resend_after_s)
            for s in due:
                self._publish(s)

    # --- waiting --------------------------------------------------------------------------
    def unacked(self) -> list[int]:
        with self._lock:
            return sorted(self.outbox)

    def wait_all_acked(self, timeout: float = 30.0) -> bool:
        return mqtt_helpers.wait_until(lambda: not self.unacked(), timeout)
