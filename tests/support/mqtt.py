"""Small paho-mqtt 2.x helpers for tests: connect and wait for the CONNACK, collect messages.

Every client is MQTT v5 with ``CallbackAPIVersion.VERSION2``, like the device and the bureau;
`connect` raises with the broker's reason when the CONNACK refuses the client.
"""
from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes


class ConnectRefused(ConnectionError):
    """The broker answered CONNACK with a failure reason (bad password, not authorized …)."""

    def __init__(self, reason):
        super().__init__(f"broker refused the connection: {reason}")
        self.reason = reason


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true; return its last truth value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def connect(url: str, *, client_id: str = "", username: str | None = None, password: str | None = None,
            ca_file=None, certfile=None, keyfile=None, clean_start: bool = True,
            session_expiry_s: int | None = None, will: tuple[str, bytes, int, bool] | None = None,
            on_message=None, max_inflight: int | None = None, timeout: float = 10.0) -> mqtt.Client:
    """A connected client with its network loop running; ``url`` is ``mqtt://`` or ``mqtts://``.

    ``on_message`` is installed before connecting: a resumed session delivers its queued
    messages right after the CONNACK, before any later subscribe could install one.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or not parts.port:
        raise ValueError(f"broker URL {url!r} must be mqtt://host:port or mqtts://host:port")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if parts.scheme == "mqtts":
        client.tls_set(ca_certs=str(ca_file) if ca_file else None, certfile=str(certfile) if certfile else None,
                       keyfile=str(keyfile) if keyfile else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if username is not None:
        client.username_pw_set(username, password)
    if will is not None:
        client.will_set(*will)
    done = threading.Event()
    outcome: dict = {}

    def on_connect(c, userdata, flags, reason_code, properties):
        outcome["reason"] = reason_code
        done.set()

    client.on_connect = on_connect
    if on_message is not None:
        client.on_message = on_message
    if max_inflight is not None:  # paho's default of 20 QoS 1 messages in flight throttles bulk publishing
        client.max_inflight_messages_set(max_inflight)
    props = None
    if session_expiry_s is not None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
    client.reconnect_delay_set(min_delay=0.1, max_delay=1)
    client.connect_async(parts.hostname, parts.port, keepalive=30, clean_start=clean_start, properties=props)
    client.loop_start()
    if not done.wait(timeout):
        client.loop_stop()
        raise TimeoutError(f"no CONNACK from {url} within {timeout} s")
    if outcome["reason"].is_failure:
        client.loop_stop()
        client.disconnect()
        raise ConnectRefused(outcome["reason"])
    return client


def close(client: mqtt.Client) -> None:
    """Disconnect cleanly and stop the loop thread (tolerates an already dead broker)."""
    try:
        client.disconnect()
    finally:
        client.loop_stop()


@dataclass
class Collector:
    """Collects messages on subscribed topics; `wait_for` blocks until enough have come."""

    messages: list = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def on_message(self, client, userdata, message) -> None:
        with self.cond:
            self.messages.append(message)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until ``predicate(messages)`` is true."""
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.messages), timeout)


def subscribe(client: mqtt.Client, topic: str, qos: int = 1, timeout: float = 10.0,
              collector: Collector | None = None) -> Collector:
    """Subscribe and wait for the SUBACK; raise if the broker refused (e.g. ACL: not authorized).

    Returns a `Collector` that gets the messages matching ``topic`` (several subscriptions on one
    client each get their own); pass ``collector`` to reuse one.
    """
    collector = collector or Collector()
    routes = getattr(client, "_support_routes", None)
    if routes is None:
        routes = client._support_routes = []
        previous = client.on_message

        def dispatch(c, userdata, message):
            matched = False
            for filt, target in list(routes):
                if mqtt.topic_matches_sub(filt, message.topic):
                    target.on_message(c, userdata, message)
                    matched = True
            if not matched and previous is not None:
                previous(c, userdata, message)

        client.on_message = dispatch
    routes.append((topic, collector))
    acks: dict = {}
    cond = threading.Condition()

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        with cond:  # may run before subscribe() below returns the mid: keep every SUBACK
            acks[mid] = reason_codes
            cond.notify_all()

    client.on_subscribe = on_subscribe
    rc, mid = client.subscribe(topic, qos)
    with cond:
        if rc != mqtt.MQTT_ERR_SUCCESS or not cond.wait_for(lambda: mid in acks, timeout):
            raise TimeoutError(f"no SUBACK for {topic!r} (rc {rc})")
    if acks[mid][0].is_failure:
        raise ConnectRefused(acks[mid][0])
    return collector
