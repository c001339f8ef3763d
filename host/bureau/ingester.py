"""The bureau ingester: MQTT in, one transaction per batch, acknowledgements out after the commit.

paho's network thread only queues each message (`Ingester._on_message`); the `pipeline.Pipeline`
parses batches in one thread and commits them in another; after each commit the ingester
publishes every unit's ``plastinir.ack/1`` and PUBACKs the messages to the broker. So:

- an ack never promises a result that is not committed;
- an ingester killed before its commit leaves the messages un-PUBACKed, and the broker redelivers
  them to the persistent session (and the unit re-sends them anyway, lacking an ack);
- a payload that breaks any rule is quarantined with its reason and counted, never fatal.

Every paho callback is guarded: an exception is logged and counted, never allowed to stop the
network loop. CONNACK and SUBACK reason codes are checked before the ingester calls itself ready.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import paho.mqtt.client as mqtt

from firmware.ack import build_acks
from firmware.contracts import topic
from firmware.record import utc_now_rfc3339

from .config import BureauConfig
from .mqtt_client import connect_async, make_client, subscriptions
from .payloads import Inbound, Parser
from .pipeline import Counters, Pipeline
from .store import BatchOutcome
from .units import KeyCache

log = logging.getLogger("plastinir.bureau")


@dataclass(frozen=True)
class _Ref:
    """What is needed to PUBACK a message: only on the connection it came in on."""

    generation: int
    mid: int
    qos: int


def guarded(name: str) -> Callable:
    """Wrap a paho callback: log and count any exception instead of letting it end the loop thread."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(self, *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except Exception:
                self.count("callback_errors")
                log.exception("error in MQTT callback %s (the network loop continues)", name)
        return inner
    return wrap


class Ingester:
    """Subscribe, validate, store, acknowledge. `start` / `stop`, or `run` until stopped.

    ``client_id`` overrides ``config.mqtt.client_id`` (several ingesters in one process, tests).
    """

    def __init__(self, config: BureauConfig, *, client_id: str | None = None):
        self.config = config
        self.client_id = client_id or config.mqtt.client_id
        ing = config.ingest
        self._counters = Counters()
        self._stop = threading.Event()
        self._accepting = threading.Event()
        self._ready = threading.Event()
        self._generation = 0
        self._sub_mids: dict[int, list[str]] = {}
        self._last_gap_request: dict[str, float] = {}
        self._last_stats_log = time.monotonic()
        self.keys = KeyCache(ttl_s=ing.key_cache_ttl_s)
        self.parser = Parser(config.prefix, self.keys, max_payload_bytes=ing.max_payload_bytes,
                             trust_on_first_use=ing.trust_on_first_use, trusted_technicians=ing.trusted_technicians)
        self.pipeline = Pipeline(config.db, self.parser, self.keys, ing, self._counters, self._acknowledge,
                                 self._housekeeping)
        self.client: mqtt.Client | None = None
        self.last_error: str | None = None

    # --- counters -------------------------------------------------------------------------
    def count(self, key: str, n: int = 1) -> None:
        self._counters.count(key, n)

    def counters(self) -> dict[str, int]:
        """A snapshot: received, stored, duplicates, quarantined (+ by category), acks_sent, queued, …"""
        snap = self._counters.snapshot()
        snap["queued"] = self.pipeline.queued()
        return snap

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> "Ingester":
        """Open (and migrate) the database, start the pipeline, connect in the background."""
        self.pipeline.start()
        self.client = make_client(self.config.mqtt, client_id=self.client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._accepting.set()
        connect_async(self.client, self.config.mqtt)
        self.client.loop_start()
        log.info("ingester %s: database %s, broker %s%s", self.client_id, self.pipeline.db.url.redacted,
                 self.config.mqtt.broker,
                 f", shared group {self.config.mqtt.shared_group}" if self.config.mqtt.shared_group else "")
        return self

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once connected and every subscription is granted."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def healthy(self) -> bool:
        """The pipeline and the network loop are alive (what the systemd watchdog is fed on)."""
        loop = getattr(self.client, "_thread", None)
        return self.pipeline.alive() and loop is not None and loop.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop taking messages, commit and acknowledge what is queued, then disconnect.

        Messages that arrive meanwhile are left un-PUBACKed: the broker redelivers them to the
        persistent session next time. The session's subscriptions are kept (never unsubscribe).
        """
        self._accepting.clear()
        self._stop.set()
        self.pipeline.stop(timeout)
        if self.client is not None:
            try:
                self.client.disconnect()
            finally:
                self.client.loop_stop()
        self._ready.clear()
        self._log_counters("stopped")

    def run(self, stop_event: threading.Event, on_tick: Callable[["Ingester"], None] | None = None) -> None:
        """Block until ``stop_event`` is set (signal handler), calling ``on_tick`` every second."""
        self.start()
        try:
            while not stop_event.wait(1.0):
                if on_tick is not None:
                    on_tick(self)
        finally:
            self.stop()

    # --- paho callbacks (network thread) --------------------------------------------------
    @guarded("on_connect")
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.count("connect_refused")
            self.last_error = f"broker refused the connection: {reason_code}"
            log.error("%s (%s); retrying", self.last_error, self.config.mqtt.broker)
            return
        self._generation += 1
        self.count("connects")
        log.info("connected to %s (session present: %s)", self.config.mqtt.broker, flags.session_present)
        subs = subscriptions(self.config.prefix, self.config.mqtt.shared_group)
        rc, mid = client.subscribe(subs)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            log.error("subscribe failed to send: %s", mqtt.error_string(rc))
            return
        self._sub_mids[mid] = [t for t, _ in subs]

    @guarded("on_subscribe")
    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        topics = self._sub_mids.pop(mid, [])
        refused = [(t, rc) for t, rc in zip(topics, reason_codes) if rc.is_failure]
        if refused or len(reason_codes) != len(topics):
            self.count("subscribe_refused")
            self.last_error = "broker refused subscriptions: " + ", ".join(f"{t} ({rc})" for t, rc in refused)
            log.error("%s; check the bureau user's ACL", self.last_error)
            return
        self._ready.set()
        log.info("subscribed: %s", ", ".join(topics))

    @guarded("on_disconnect")
    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._ready.clear()
        self.count("disconnects")
        if not self._stop.is_set():
            log.warning("disconnected from %s: %s; reconnecting", self.config.mqtt.broker, reason_code)

    @guarded("on_message")
    def _on_message(self, client, userdata, message) -> None:
        if not self._accepting.is_set():
            return  # stopping: left un-PUBACKed for the broker to redeliver
        self.count("received")
        self.pipeline.inbound.put(Inbound(message.topic, message.payload, utc_now_rfc3339(),
                                          _Ref(self._generation, message.mid, message.qos), bool(message.retain)))

    # --- after each commit (store thread) ---------------------------------------------------
    def _acknowledge(self, batch: list[Inbound], outcome: BatchOutcome | None) -> None:
        if outcome is not None:
            self._send_acks(outcome)
        self._puback(batch)

    def _publish(self, unit: str, payload: bytes) -> None:
        if self.client is None:
            return
        info = self.client.publish(topic(self.config.prefix, unit, "ack"), payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("ack to %s not queued: %s", unit, mqtt.error_string(info.rc))
        self.count("acks_sent")

    def _send_acks(self, outcome: BatchOutcome) -> None:
        for unit, (stored, missing) in outcome.acks.items():
            for payload in build_acks(stored, missing):
                self._publish(unit, payload)
            if missing:
                self._last_gap_request[unit] = time.monotonic()
        now = time.monotonic()
        for unit, missing in outcome.gap_requests.items():
            last = self._last_gap_request.get(unit)
            if last is None or now - last >= self.config.ingest.gap_request_interval_s:
                self._last_gap_request[unit] = now
                for payload in build_acks([], missing):
                    self._publish(unit, payload)
                self.count("gap_requests")

    def _puback(self, batch: list[Inbound]) -> None:
        if self.client is None:
            return
        for inbound in batch:
            ref = inbound.ref
            # A mid from an earlier connection may now name another message: never PUBACK it.
            if isinstance(ref, _Ref) and ref.qos > 0 and ref.generation == self._generation:
                self.client.ack(ref.mid, ref.qos)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_stats_log >= self.config.ingest.stats_log_interval_s:
            self._last_stats_log = now
            self._log_counters("running")

    def _log_counters(self, state: str) -> None:
        c = self.counters()
        keys = ("received", "stored", "duplicates", "quarantined", "acks_sent", "callback_errors",
                "db_unavailable", "worker_errors")
        log.info("%s: %s", state, ", ".join(f"{k}={c.get(k, 0)}" for k in keys))

