"""An MQTT observer on the soak's broker: how often each result went over the wire, which gaps the
bureau asked for. It only watches (its own clean session, QoS 1, reconnecting after every broker
restart), so what it counts is a lower bound: it hears nothing while the broker is down."""
from __future__ import annotations

import json
import threading
from collections import Counter
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from firmware.ack import parse_ack

from .rig import PREFIX


class Monitor:
    def __init__(self, broker_url: str) -> None:
        parts = urlsplit(broker_url)
        self.host, self.port = parts.hostname, parts.port
        self.deliveries: Counter = Counter()          # (unit, seq) → times seen on <p>/<unit>/result
        self.asked: set[tuple[str, int, int]] = set()  # (unit, first, last) in some ack's ``missing``
        self.acks = 0
        self.connects = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-monitor", protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 1.0)

    def start(self) -> "Monitor":
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            self.connects += 1
            client.subscribe([(f"{PREFIX}/+/result", 1), (f"{PREFIX}/+/ack", 1)])

    def _on_message(self, client, userdata, message) -> None:
        try:
            unit, leaf = message.topic.split("/")[1:3]
            if leaf == "result":
                seq = json.loads(message.payload).get("seq")
                if isinstance(seq, int):
                    with self._lock:
                        self.deliveries[(unit, seq)] += 1
            elif leaf == "ack":
                ack = parse_ack(message.payload)
                with self._lock:
                    self.acks += 1
                    self.asked.update((unit, a, b) for a, b in ack.missing)
        except Exception:  # noqa: BLE001 - bad payloads are the soak's own doing; an observer ignores them
            pass

    def resent(self) -> int:
        """Result messages seen more than once (re-sent by a unit, or redelivered by the broker)."""
        with self._lock:
            return sum(n - 1 for n in self.deliveries.values() if n > 1)
