"""The unit's connection to the broker: paho's network thread, its callbacks, and the protocol.

Shaped like Frigate's ``Communicator`` (publish / subscribe / stop, ``connect_async`` +
``loop_start``, a retained Last Will), with what a unit that must never lose a result needs on
top:

- **Reason codes are checked** before the link calls itself anything: a refused CONNACK (bad
  password, not authorised, unsupported protocol) is state ``refused`` with the broker's reason,
  and paho retries with exponential backoff (``mqtt.reconnect_min_s`` … ``reconnect_max_s``);
  after CONNACK the state is ``subscribing`` until the SUBACK grants both the ``ack`` and the
  ``cmd/+`` subscription — only then ``connected``.
- **Every callback is guarded**: paho re-raises an exception from a callback out of its loop and
  the network thread dies silently, so each one here logs and counts it (``callback_errors``)
  and returns. Callbacks only note what happened (`notify`) and return; the link's own thread
  does the work (journal writes, queries), so a slow SD card never stalls the keep-alive.
- **MQTT 5, falling back to 3.1.1** (``mqtt.protocol = "auto"``): a 3.1.1 broker answers an MQTT 5
  CONNECT with "unacceptable protocol version" (paho reports "Unsupported protocol version"),
  or — amqtt, when the CONNECT carries a Will — never answers at all; either way the link builds
  a new client speaking 3.1.1 (`swap`). A refusal is final for this process; a silent broker
  (``connack_timeout_s``) makes the link alternate between the two.

A new paho client (a protocol swap) starts a new *generation*: whatever its predecessor's
callbacks still report (packet ids are per client) is ignored.
"""
from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config.mqtt import MqttSection
from ..contracts import topic
from . import status as st
from .client import PROTOCOL_NAMES, PROTOCOLS, connect_async, make_client
from .payloads import Command

log = logging.getLogger(__name__)

#: CONNACK reason a 3.1.1 broker's "unacceptable protocol version" becomes in paho's MQTT 5 client.
UNSUPPORTED_PROTOCOL = 132
#: Notifications to the link's thread: ("up"|"down", gen), ("puback", gen, mid, ok), ("ack", gen, payload),
#: ("swap", gen, protocol).
Notify = Callable[[tuple], None]


def guarded(name: str) -> Callable:
    """Log and count an exception in a paho callback instead of letting it end the network loop."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(self: "Connection", *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except Exception:  # noqa: BLE001 - see the module docstring
                self.status.count("callback_errors")
                log.exception("error in MQTT callback %s (the network loop continues)", name)
        return inner
    return wrap


class Connection:
    """One logical connection (one paho client at a time); see the module docstring.

    ``notify`` hands events to the link's thread; ``on_command(command, payload, retained)`` gets
    every ``cmd/<name>`` message (on the network thread: it must only queue it).
    """

    def __init__(self, settings: MqttSection, unit: str, *, status: st.LinkStatus, notify: Notify,
                 on_command: Callable[[Command, bytes, bool], None], window: int) -> None:
        self.settings = settings
        self.unit = unit
        self.prefix = settings.prefix
        self.status = status
        self.notify = notify
        self.on_command = on_command
        self.window = window
        self.ack_topic = topic(self.prefix, unit, "ack")
        self.status_topic = topic(self.prefix, unit, "status")
        self._cmd_prefix = topic(self.prefix, unit, "cmd/")
        self.protocol = mqtt.MQTTv311 if settings.protocol == "3.1.1" else mqtt.MQTTv5
        self.v5_refused = False
        self.generation = 0
        self.client: mqtt.Client | None = None
        self._sub_mids: dict[int, list[str]] = {}
        self._attempt_started: float | None = None   # monotonic time of the current CONNECT, until CONNACK
        self._refusals = 0
        self._stopping = False
        self._lock = threading.Lock()                 # swap / stop / publish see one client

    @property
    def protocol_name(self) -> str:
        return PROTOCOL_NAMES[self.protocol]

    @property
    def awaiting_connack(self) -> bool:
        return self._attempt_started is not None

    @property
    def v5(self) -> bool:
        return self.protocol == mqtt.MQTTv5

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            self._open()

    def _open(self) -> None:
        """A new client (new generation) for ``self.protocol``, connecting in the background."""
        self.generation += 1
        client = make_client(self.settings, self.unit, self.protocol, window=self.window)
        gen = self.generation
        # every callback knows its generation: a replaced client's late reports are ignored
        client.on_pre_connect = lambda c, u: self._on_pre_connect(gen)
        client.on_connect = lambda c, u, f, rc, p: self._on_connect(gen, c, f, rc)
        client.on_subscribe = lambda c, u, mid, rcs, p: self._on_subscribe(gen, mid, rcs)
        client.on_disconnect = lambda c, u, f, rc, p: self._on_disconnect(gen, rc)
        client.on_publish = lambda c, u, mid, rc, p: self._on_publish(gen, mid, rc)
        client.on_message = lambda c, u, m: self._on_message(gen, m)
        client.on_connect_fail = lambda c, u: self._on_connect_fail(gen)
        client.on_socket_open = lambda c, u, sock: self._on_socket_open(sock)
        self.client = client
        self.status.protocol = self.protocol_name
        self.status.set(st.CONNECTING, f"connecting to {self.status.broker} (MQTT {self.protocol_name})")
        connect_async(client, self.settings, self.protocol)
        client.loop_start()

    def _close_client(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.disconnect()
        finally:
            client.loop_stop()

    def swap(self, protocol: int, why: str) -> None:
        """Replace the client with one speaking ``protocol`` (called from the link's thread)."""
        with self._lock:
            if self._stopping:
                return
            log.warning("MQTT: %s; reconnecting with MQTT %s", why, PROTOCOL_NAMES[protocol])
            self.generation += 1          # the old client's callbacks are stale from here on
            self._close_client()
            self.protocol = protocol
            self._attempt_started = None
            self._open()

    def stop(self, final_status: bytes = b"stopped", timeout: float = 3.0) -> None:
        """Publish the retained ``stopped`` (when connected), DISCONNECT cleanly (no Will), end the loop."""
        with self._lock:
            self._stopping = True
            client = self.client
            if client is not None and client.is_connected():
                try:
                    info = client.publish(self.status_topic, final_status, qos=1, retain=True)
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError) as exc:
                    log.warning("MQTT: could not publish status %r before stopping: %s", final_status, exc)
            self._close_client()
        self.status.set(st.STOPPED, f"{final_status.decode()} published" if client is not None else None)

    def check_connack(self, now: float) -> bool:
        """Give up a CONNECT the broker never answered (`mqtt.connack_timeout_s`) with a new client;
        True if it did (link thread)."""
        started = self._attempt_started
        if started is None or now - started < self.settings.connack_timeout_s or self._stopping:
            return False
        self.status.count("connack_timeouts")
        if self.settings.protocol == "auto" and self.v5 and not self.v5_refused:
            nxt = mqtt.MQTTv311
        elif self.settings.protocol == "auto" and not self.v5 and not self.v5_refused:
            nxt = mqtt.MQTTv5
        else:
            nxt = self.protocol
        self.swap(nxt, f"no CONNACK within {self.settings.connack_timeout_s:g} s from {self.status.broker}")
        return True

    # --- publishing (any thread) ------------------------------------------------------------

    def publish(self, topic_: str, payload: bytes, *, qos: int, retain: bool = False,
                correlation: bytes | None = None) -> tuple[int, int] | None:
        """Hand a message to paho: (generation, mid), or None if it was not taken.

        A QoS>0 message paho took while the connection was dropping is kept by paho and sent again
        after the reconnect, so "no connection" with a mid still counts as taken.
        """
        with self._lock:
            client, gen = self.client, self.generation
        if client is None:
            return None
        props = None
        if correlation is not None and self.v5:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = correlation
        try:
            info = client.publish(topic_, payload, qos=qos, retain=retain, properties=props)
        except (ValueError, RuntimeError) as exc:  # bad topic, payload too large
            self.status.count("publish_errors")
            log.error("MQTT: cannot publish on %s: %s", topic_, exc)
            return None
        if info.rc == mqtt.MQTT_ERR_SUCCESS or (info.rc == mqtt.MQTT_ERR_NO_CONN and qos > 0):
            return gen, info.mid
        self.status.count("publish_errors")
        log.warning("MQTT: publish on %s not taken: %s", topic_, mqtt.error_string(info.rc))
        return None

    # --- paho callbacks (network thread) ----------------------------------------------------

    def _stale(self, gen: int) -> bool:
        return gen != self.generation or self._stopping

    @guarded("on_pre_connect")
    def _on_pre_connect(self, gen: int) -> None:
        if self._stale(gen):
            return
        self._attempt_started = time.monotonic()
        self.status.count("connect_attempts")

    @guarded("on_socket_open")
    def _on_socket_open(self, sock: Any) -> None:
        """No Nagle: a PUBLISH or PUBACK is a small write, and Nagle holding it for the peer's
        delayed TCP ACK added ~40 ms to every result → ack round trip (bench_link, window 10)."""
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError) as exc:  # e.g. a proxy socket without it: only slower
            log.debug("TCP_NODELAY not set: %s", exc)

    @guarded("on_connect")
    def _on_connect(self, gen: int, client: mqtt.Client, flags: Any, reason: Any) -> None:
        if self._stale(gen):
            return
        self._attempt_started = None
        if reason.is_failure:
            self._refusals += 1
            self.status.count("connect_refused")
            if reason.value == UNSUPPORTED_PROTOCOL and self.v5 and self.settings.protocol == "auto":
                self.v5_refused = True
                self.status.set(st.REFUSED, f"broker refused MQTT 5 ({reason}); falling back to MQTT 3.1.1")
                self.notify(("swap", gen, mqtt.MQTTv311))
                return
            self.status.set(st.REFUSED, f"broker refused the connection: {reason} (attempt {self._refusals}); "
                                        f"retrying with backoff up to {self.settings.reconnect_max_s:g} s")
            if self._refusals & (self._refusals - 1) == 0:  # 1st, 2nd, 4th, 8th …: a log, not a flood
                log.error("MQTT: %s refused the connection: %s (attempt %d); retrying with backoff",
                          self.status.broker, reason, self._refusals)
            return
        self._refusals = 0
        self.status.count("connects")
        self.status.set(st.SUBSCRIBING, "connected; subscribing to ack and commands")
        client.publish(self.status_topic, b"online", qos=1, retain=True)
        subs = [(self.ack_topic, 1), (self._cmd_prefix + "+", 1)]
        rc, mid = client.subscribe(subs)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            self.status.set(st.DISCONNECTED, f"subscribe not sent: {mqtt.error_string(rc)}")
            return
        self._sub_mids[mid] = [t for t, _ in subs]
        log.info("MQTT: connected to %s (MQTT %s)", self.status.broker, self.protocol_name)

    @guarded("on_subscribe")
    def _on_subscribe(self, gen: int, mid: int, reason_codes: list) -> None:
        if self._stale(gen):
            return
        topics = self._sub_mids.pop(mid, [])
        refused = [f"{t} ({rc})" for t, rc in zip(topics, reason_codes) if rc.is_failure]
        if refused or len(reason_codes) != len(topics):
            self.status.count("subscribe_refused")
            self.status.set(st.REFUSED, "broker refused subscriptions: " + (", ".join(refused) or "?") +
                            "; check the unit's ACL (results cannot be acknowledged without the ack topic)")
            log.error("MQTT: %s", self.status.as_dict()["detail"])
            return
        self.status.set(st.CONNECTED, None)
        self.notify(("up", gen))

    @guarded("on_disconnect")
    def _on_disconnect(self, gen: int, reason: Any) -> None:
        if self._stale(gen):
            return
        self._attempt_started = None
        self.status.count("disconnects")
        self.notify(("down", gen))
        if self.status.state == st.REFUSED:
            return  # a refused CONNACK ends in a disconnect: keep showing why
        self.status.set(st.DISCONNECTED, f"connection lost: {reason}; reconnecting with backoff up to "
                                         f"{self.settings.reconnect_max_s:g} s")
        log.warning("MQTT: disconnected from %s: %s", self.status.broker, reason)

    @guarded("on_connect_fail")
    def _on_connect_fail(self, gen: int) -> None:
        if self._stale(gen):
            return
        self._attempt_started = None
        self.status.count("connect_failures")
        if self.status.state != st.REFUSED:
            self.status.set(st.DISCONNECTED, f"cannot reach {self.status.broker}; retrying with backoff up to "
                                             f"{self.settings.reconnect_max_s:g} s")

    @guarded("on_publish")
    def _on_publish(self, gen: int, mid: int, reason: Any) -> None:
        failed = bool(getattr(reason, "is_failure", False))
        if failed:
            self.status.count("publish_refused")
            log.warning("MQTT: broker refused a publish (mid %s): %s", mid, reason)
        else:
            self.status.puback()
        if gen == self.generation:
            self.notify(("puback", gen, mid, not failed))

    @guarded("on_message")
    def _on_message(self, gen: int, message: mqtt.MQTTMessage) -> None:
        if self._stale(gen):
            return
        if message.topic == self.ack_topic:
            self.notify(("ack", gen, bytes(message.payload)))
            return
        name = message.topic[len(self._cmd_prefix):] if message.topic.startswith(self._cmd_prefix) else ""
        if not name or "/" in name:
            self.status.count("unexpected_messages")
            return
        props = message.properties
        response = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        self.on_command(Command(name, response or None, correlation), bytes(message.payload), bool(message.retain))


__all__ = ["Connection", "PROTOCOLS", "guarded"]
