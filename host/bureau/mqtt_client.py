"""The bureau's paho-mqtt 2.x client: MQTT v5, persistent session, TLS and credentials from config.

Kept apart from the ingester so the benchmark's plain subscriber connects exactly the same way.
The session is persistent (``clean_start=False`` with a session expiry), so results published
while the ingester is down are queued by the broker; messages are PUBACKed only after their
commit (``manual_ack``), and ``ReceiveMaximum`` tells the broker how many may be outstanding.
"""
from __future__ import annotations

import logging
import socket
import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from .config import MqttSettings, parse_broker_url

log = logging.getLogger("plastinir.bureau")

#: Leaves split between shared ingesters (high volume, not retained, one copy wanted).
SHARED_LEAVES = ("result", "stats", "event/+")
#: Retained, idempotent leaves every ingester reads itself (a shared subscription would not
#: receive retained messages when it subscribes).
OWN_LEAVES = ("birth", "status", "calibration")


def subscriptions(prefix: str, shared_group: str | None) -> list[tuple[str, SubscribeOptions]]:
    """(topic filter, options) for every topic the bureau ingests."""
    share = f"$share/{shared_group}/" if shared_group else ""
    opts = SubscribeOptions(qos=1)
    return ([(f"{share}{prefix}/+/{leaf}", opts) for leaf in SHARED_LEAVES]
            + [(f"{prefix}/+/{leaf}", opts) for leaf in OWN_LEAVES])


def make_client(settings: MqttSettings, *, client_id: str | None = None, manual_ack: bool = True) -> mqtt.Client:
    """A configured, not yet connected client (TLS, credentials, reconnect backoff)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or settings.client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    tls, _, _ = parse_broker_url(settings.broker)
    if tls:
        client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None,
                       certfile=str(settings.cert_file) if settings.cert_file else None,
                       keyfile=str(settings.key_file) if settings.key_file else None,
                       cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if settings.username:
        client.username_pw_set(settings.username, settings.password())
    client.reconnect_delay_set(min_delay=settings.reconnect_min_s, max_delay=settings.reconnect_max_s)
    client.on_socket_open = _no_delay
    return client


def _no_delay(client: mqtt.Client, userdata, sock) -> None:
    """No Nagle: the bureau's writes are small (a PUBACK per message, an ack per unit per batch), and
    Nagle holds each one until the peer's delayed TCP ACK (~40 ms on Linux) — a unit waiting for
    its ack, or a broker whose ``ReceiveMaximum`` window is waiting for PUBACKs, waits with it.
    The unit's link does the same (docs/LINK.md: 65 → 22 ms round trips)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError) as exc:  # not a TCP socket (a proxy, a test double): only slower
        log.debug("TCP_NODELAY not set: %s", exc)


def connect_properties(settings: MqttSettings) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.session_expiry_s
    props.ReceiveMaximum = settings.receive_maximum
    return props


def connect_async(client: mqtt.Client, settings: MqttSettings) -> None:
    """Start connecting in the background (the loop thread keeps reconnecting with backoff)."""
    _, host, port = parse_broker_url(settings.broker)
    client.connect_async(host, port, keepalive=settings.keepalive_s, clean_start=False,
                         properties=connect_properties(settings))
