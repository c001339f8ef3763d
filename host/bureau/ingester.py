"""The bureau ingester: MQTT in, one transaction per batch, acknowledgements out after the commit.

Two threads. paho's network thread only queues each message (`Ingester._on_message`); the
worker thread takes batches (up to ``batch_max`` messages, waiting at most ``batch_wait_ms`` for
a batch to fill), parses them (`payloads.Parser`: size, UTF-8, JSON, schema, topic, registered
unit, signature), writes the batch in one transaction (`store.Store`), and only after the commit
publishes each unit's ``plastinir.ack/1`` and PUBACKs the messages to the broker. So:

- an ack never promises a result that is not committed;
- an ingester killed before its commit leaves the messages un-PUBACKed, and the broker redelivers
  them to the persistent session (and the unit re-sends them anyway, lacking an ack);
- a payload that breaks any rule is quarantined with its reason and counted, never fatal;
- a batch the database refuses is retried message by message, so one poison message is
  quarantined (category ``internal``) instead of blocking the rest; a lost database connection
  is retried with backoff without acknowledging anything.

Every paho callback is guarded: an exception is logged and counted, never allowed to stop the
network loop. CONNACK and SUBACK reason codes are checked before the ingester calls itself ready.
"""
from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable

import paho.mqtt.client as mqtt

from firmware.ack import build_acks
from firmware.contracts import topic
from firmware.record import utc_now_rfc3339

from .config import BureauConfig
from .database import Database
from .errors import DatabaseError, DatabaseUnavailable
from .migrations import open_database
from .mqtt_client import connect_async, make_client, subscriptions
from .payloads import INTERNAL, Inbound, Parsed, Parser, Rejected
from .store import BatchOutcome, Store
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
        self._counts: Counter = Counter()
        self._count_lock = threading.Lock()
        self._queue: "queue.Queue[Inbound]" = queue.Queue()
        self._retry: deque[Inbound] = deque()
        self._stop = threading.Event()
        self._accepting = threading.Event()
        self._ready = threading.Event()
        self._worker_done = threading.Event()
        self._generation = 0
        self._sub_mids: dict[int, list[str]] = {}
        self._last_gap_request: dict[str, float] = {}
        self._last_stats_log = time.monotonic()
        self.keys = KeyCache(ttl_s=ing.key_cache_ttl_s)
        self.parser = Parser(config.prefix, self.keys, max_payload_bytes=ing.max_payload_bytes,
                             trust_on_first_use=ing.trust_on_first_use)
        self.db: Database | None = None
        self.store: Store | None = None
        self.client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None
        self.last_error: str | None = None

    # --- counters -------------------------------------------------------------------------
    def count(self, key: str, n: int = 1) -> None:
        with self._count_lock:
            self._counts[key] += n

    def counters(self) -> dict[str, int]:
        """A snapshot: received, stored, duplicates, quarantined (+ by category), acks_sent, …"""
        with self._count_lock:
            snap = dict(self._counts)
        snap["quarantined"] = sum(v for k, v in snap.items() if k.startswith("quarantined:"))
        snap["queued"] = self._queue.qsize() + len(self._retry)
        return snap

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> "Ingester":
        """Open (and migrate) the database, start the worker, connect in the background."""
        self.db = open_database(self.config.db)
        self.store = Store(self.db, quarantine_keep_bytes=self.config.ingest.quarantine_keep_bytes)
        self._worker = threading.Thread(target=self._work, name="bureau-worker", daemon=True)
        self._worker.start()
        self.client = make_client(self.config.mqtt, client_id=self.client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._accepting.set()
        connect_async(self.client, self.config.mqtt)
        self.client.loop_start()
        log.info("ingester %s: database %s, broker %s%s", self.client_id, self.db.url.redacted,
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
        """The worker and the network loop are alive (what the systemd watchdog is fed on)."""
        loop = getattr(self.client, "_thread", None)
        return bool(self._worker and self._worker.is_alive() and loop is not None and loop.is_alive())

    def stop(self, timeout: float = 15.0) -> None:
        """Stop taking messages, commit and acknowledge what is queued, then disconnect.

        Messages that arrive meanwhile are left un-PUBACKed: the broker redelivers them to the
        persistent session next time. The session's subscriptions are kept (never unsubscribe).
        """
        self._accepting.clear()
        self._stop.set()
        if self._worker is not None:
            self._worker_done.wait(timeout)
        if self.client is not None:
            try:
                self.client.disconnect()
            finally:
                self.client.loop_stop()
        if self.db is not None:
            self.db.close()
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
        self._queue.put(Inbound(message.topic, message.payload, utc_now_rfc3339(),
                                _Ref(self._generation, message.mid, message.qos)))

    # --- worker thread --------------------------------------------------------------------
    def _next_batch(self) -> list[Inbound]:
        ing = self.config.ingest
        batch: list[Inbound] = []
        while self._retry and len(batch) < ing.batch_max:
            batch.append(self._retry.popleft())
        if not batch:
            try:
                batch.append(self._queue.get(timeout=0.2))
            except queue.Empty:
                return []
        deadline = time.monotonic() + ing.batch_wait_ms / 1000
        while len(batch) < ing.batch_max:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _work(self) -> None:
        backoff = 0.2
        give_up_at: float | None = None
        try:
            while True:
                try:
                    batch = self._next_batch()
                    if not batch:
                        if self._stop.is_set():
                            return
                        self._housekeeping()
                        continue
                    self._handle(batch)
                    backoff = 0.2
                    give_up_at = None
                except DatabaseUnavailable as exc:
                    self.count("db_unavailable")
                    self.last_error = str(exc)
                    log.warning("database unavailable (%s); retrying in %.1f s", exc, backoff)
                    if self._stop.is_set():
                        give_up_at = give_up_at or time.monotonic() + 5
                        if time.monotonic() > give_up_at:
                            log.error("stopping with %d messages not stored; the broker and the units keep them",
                                      len(self._retry) + self._queue.qsize())
                            return
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    self._reconnect_db()
                except Exception:  # the worker must never die: log, count, carry on
                    self.count("worker_errors")
                    log.exception("unexpected error in the ingester worker; continuing")
                    time.sleep(0.1)
        finally:
            self._worker_done.set()

    def _reconnect_db(self) -> None:
        assert self.db is not None
        try:
            self.db.connect()
        except DatabaseUnavailable as exc:
            log.warning("database still unavailable: %s", exc)

    def _parse(self, inbound: Inbound) -> Parsed:
        assert self.db is not None
        try:
            return self.parser.parse(self.db, inbound)
        except DatabaseError:
            raise
        except Exception as exc:  # a parser bug must cost one message, not the ingester
            log.exception("parser failed on %s", inbound.topic)
            return Rejected(inbound, self.parser.split_topic(inbound.topic)[0] or "", INTERNAL,
                            f"parser error: {type(exc).__name__}: {exc}")

    def _handle(self, batch: list[Inbound]) -> None:
        """Process ``batch``; on a refused batch, isolate the message the database refuses."""
        try:
            self.process(batch)
        except DatabaseUnavailable:
            self._retry.extendleft(reversed(batch))
            raise
        except DatabaseError as exc:
            self.count("db_refused_batches")
            if len(batch) > 1:
                log.warning("database refused a batch of %d (%s); retrying one by one", len(batch), exc)
                for i, inbound in enumerate(batch):
                    try:
                        self._handle([inbound])
                    except DatabaseUnavailable:
                        self._retry.extendleft(reversed(batch[i + 1:]))
                        raise
                return
            inbound = batch[0]
            rejected = Rejected(inbound, self.parser.split_topic(inbound.topic)[0] or "", INTERNAL,
                                f"database refused it: {exc}")
            assert self.store is not None
            self.store.quarantine([rejected])
            self.count(f"quarantined:{INTERNAL}")
            self._puback(batch)

    def process(self, batch: list[Inbound]) -> BatchOutcome:
        """Parse and commit ``batch``, then acknowledge (ack topics, PUBACK). Public for tests."""
        assert self.store is not None
        parsed = [self._parse(m) for m in batch]
        outcome = self.store.write(parsed)  # committed when this returns
        for unit, key in outcome.registered:
            self.keys.put(unit, key)
            log.warning("unit %s registered by trust on first use", unit)
        with self._count_lock:
            self._counts.update(outcome.counts)
            self._counts["batches"] += 1
        for r in parsed:
            if isinstance(r, Rejected):
                log.info("quarantined %s (%s): %s", r.inbound.topic, r.category, r.reason[:300])
        self._send_acks(outcome)
        self._puback(batch)
        return outcome

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


def run_ingester(config: BureauConfig, stop_event: threading.Event,
                 on_tick: Callable[[Ingester], None] | None = None) -> Ingester:
    """Run an ingester until ``stop_event`` is set; returns it (its counters) afterwards."""
    ingester = Ingester(config)
    ingester.run(stop_event, on_tick)
    return ingester
