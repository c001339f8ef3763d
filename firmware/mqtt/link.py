"""`MqttLink`: the unit's MQTT link as one service — connection, outbox, health, commands.

Three threads, each with one job:

- paho's network thread (`firmware.mqtt.connection`): keep-alive, reconnects, callbacks that
  only note what happened and wake the link's thread;
- the link's thread (``mqtt-link``, here): everything that touches the journal — results out in
  seq order through the window, the bureau's acks in, events, birth, calibration, stats, the
  outbox alarm, the CONNACK timeout. It is woken by the runtime's hooks (a new result or event),
  by the network thread, and by its own timers; an error in one pass is logged and counted and
  the next pass runs (a journal busy for a moment must not end the link);
- the command worker (`firmware.mqtt.commands`): one command at a time through the runtime.

The journal is the only queue that matters: whatever the link did not finish (a result not yet
acknowledged, an event without PUBACK) is still in the journal after a crash and goes out from
there after the next start.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from ..ack import parse_ack
from ..config.mqtt import MqttSection
from ..contracts import topic
from ..errors import MessageError
from . import status as st
from .client import check_files
from .commands import CommandWorker
from .connection import Connection
from .health import HealthPublisher
from .outbox import OutboxSender
from .payloads import Command, reply

log = logging.getLogger(__name__)

#: The link's thread re-checks everything at least this often, woken or not (a missed wake-up
#: costs at most this long; an idle pass is a few cheap calls).
IDLE_PASS_S = 2.0
#: Pause after a pass that failed (journal busy, disk full …) before the next one.
ERROR_PAUSE_S = 1.0


class MqttLink:
    """The link for ``runtime`` (a `firmware.runtime.DeviceRuntime`); `start`, `stop`, `status`.

    ``settings`` defaults to ``runtime.config.mqtt``.
    """

    name = "MQTT link"

    def __init__(self, runtime: Any, settings: MqttSection | None = None) -> None:
        self.runtime = runtime
        self.settings = settings or runtime.config.mqtt
        if self.settings.endpoint is None:
            raise ValueError("MqttLink needs a broker (mqtt.broker is 'none')")
        self.unit = runtime.identity.unit
        self.prefix = self.settings.prefix
        self.status = st.LinkStatus(self.settings.endpoint.url)
        self._inbox: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._up = False
        self.connection = Connection(self.settings, self.unit, status=self.status, notify=self._notify,
                                     on_command=self._on_command, window=self.settings.inflight_window)
        self.outbox = OutboxSender(runtime.journal, window=self.settings.inflight_window,
                                   resend_after_s=self.settings.resend_after_s,
                                   publish=lambda body: self._publish("result", body, qos=self.settings.qos),
                                   count=self.status.count)
        self.health = HealthPublisher(runtime, qos=self.settings.qos,
                                      stats_interval_s=self.settings.stats_interval_s,
                                      alarm_after_s=self.settings.alarm_after_s,
                                      resend_after_s=self.settings.resend_after_s,
                                      publish=self._publish, count=self.status.count)
        self.commands = CommandWorker(runtime, self._send_reply, max_bytes=int(self.settings.max_command_mb * 2**20),
                                      count=self.status.count)
        self._unhook: list = []
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)

    # --- Service ----------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"{self.status.broker}, topics {topic(self.prefix, self.unit, '#')}"

    def start(self) -> "MqttLink":
        check_files(self.settings)
        self.runtime.link_status = self.status.as_dict
        self._unhook = [self.runtime.on_result(self._on_result), self.runtime.on_event(self._on_event)]
        self.commands.start()
        self.connection.start()
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current pass, publish the retained ``stopped``, disconnect cleanly (no Will)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for unhook in self._unhook:
            unhook()
        self._unhook = []
        self.commands.stop(timeout)
        self.connection.stop()

    def counters(self) -> dict[str, int]:
        return self.status.counters()

    # --- wake-ups ---------------------------------------------------------------------------

    def _notify(self, item: tuple) -> None:
        self._inbox.put(item)
        self._wake.set()

    def _on_result(self, record: dict) -> None:
        self._inbox.put(("result",))
        self._wake.set()

    def _on_event(self, event: dict) -> None:
        self._inbox.put(("event",))
        self._wake.set()

    def _on_command(self, command: Command, payload: bytes, retained: bool) -> None:
        if retained:  # it would run again on every reconnect
            self.status.count("commands_refused")
            self._send_reply(command, reply(command.name, ok=False, error="retained command ignored: publish "
                                            "commands without the retain flag"))
            return
        self.commands.offer(command, payload)

    # --- publishing -------------------------------------------------------------------------

    def _publish(self, leaf: str, body: bytes, *, qos: int, retain: bool = False) -> int | None:
        taken = self.connection.publish(topic(self.prefix, self.unit, leaf), body, qos=qos, retain=retain)
        return None if taken is None else taken[1]

    def _send_reply(self, command: Command, body: bytes) -> None:
        where = command.response_topic or topic(self.prefix, self.unit, f"cmd/{command.name}/reply")
        if self.connection.publish(where, body, qos=1, correlation=command.correlation) is None:
            self.status.count("replies_lost")
            log.warning("reply to command %s could not be sent (no connection)", command.name)
        else:
            self.status.count("replies")

    # --- the link's thread ------------------------------------------------------------------

    def _run(self) -> None:
        last_full = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now - last_full >= IDLE_PASS_S:  # safety net: look at the journal even without a wake-up
                    last_full = now
                    self.outbox.dirty = True
                    self.health.events_dirty = True
                self._pass()
            except Exception:  # noqa: BLE001 - the link outlives a failed pass
                self.status.count("link_errors")
                log.exception("MQTT link pass failed; retrying in %g s", ERROR_PAUSE_S)
                self._stop.wait(ERROR_PAUSE_S)
            self._wake.wait(self._timeout())
            self._wake.clear()
        try:
            self.outbox.flush_marks(force=True)
        except Exception:  # noqa: BLE001 - only the attempt counters; nothing is lost
            log.exception("recording publish attempts at stop")

    def _timeout(self) -> float:
        waits = [IDLE_PASS_S, self.health.next_due(self._up)]
        expiry = self.outbox.next_expiry()
        if expiry is not None:
            waits.append(expiry)
        if self.connection.awaiting_connack:
            waits.append(0.5)
        return max(0.01, min(waits))

    def _pass(self) -> None:
        self._drain_inbox()
        if self.connection.check_connack(time.monotonic()):
            self._replaced()
        self.outbox.expire()
        if self._up:
            self.outbox.send()
        self.outbox.flush_marks()
        self.health.step(self._up)

    def _drain_inbox(self) -> None:
        gen = self.connection.generation
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            kind = item[0]
            if kind == "result":
                self.outbox.dirty = True
            elif kind == "event":
                self.health.events_dirty = True
            elif kind == "ack":  # valid whichever connection brought it: the bureau stored those seqs
                self._ack(item[2])
            elif item[1] != gen:
                continue  # from a replaced client
            elif kind == "up":
                self._up = True
                self.outbox.connected()
                self.health.connected()
            elif kind == "down":
                self._up = False
            elif kind == "puback":
                _, _, mid, ok = item
                if not self.outbox.puback(mid, ok):
                    self.health.puback(mid, ok)
            elif kind == "swap":
                self.connection.swap(item[2], f"broker refused MQTT {self.connection.protocol_name}")
                self._replaced()
                gen = self.connection.generation

    def _replaced(self) -> None:
        """A new paho client: nothing of the old one's queue or packet ids is valid any more."""
        self._up = False
        self.outbox.new_client()
        self.health.new_client()

    def _ack(self, payload: bytes) -> None:
        try:
            ack = parse_ack(payload)
        except MessageError as exc:
            self.status.count("bad_acks")
            log.warning("ignoring a malformed ack on %s: %s", self.connection.ack_topic, exc)
            return
        self.status.count("acks")
        self.outbox.acknowledged(ack)


__all__ = ["MqttLink"]
