"""The unit's MQTT link to the bureau (issue 5; contract in docs/MQTT.md, design in docs/LINK.md).

``start_link(runtime) -> Service`` is what `firmware.services` plugs into ``nir-device run`` and
the demo. Modules, one job each:

- `firmware.mqtt.client`: a configured paho-mqtt 2.x client (protocol, TLS, credentials, Will);
- `firmware.mqtt.connection`: paho's network thread and its guarded callbacks, reason codes,
  the MQTT 5 → 3.1.1 fallback;
- `firmware.mqtt.outbox`: results from the journal's outbox, out only on the bureau's ack;
- `firmware.mqtt.health`: birth, calibration, stats, events, the stale-outbox alarm;
- `firmware.mqtt.commands`: ``cmd/<name>`` on a worker thread, answered on the response topic;
- `firmware.mqtt.payloads`: the JSON documents of the contract;
- `firmware.mqtt.status`: what ``runtime.link_status()`` returns to the page;
- `firmware.mqtt.link`: `MqttLink`, the service that ties them together;
- `firmware.mqtt.embedded`: the demo's broker (Mosquitto, else the pure-Python amqtt).
"""
from __future__ import annotations

from typing import Any

from .link import MqttLink

__all__ = ["MqttLink", "start_link"]


def start_link(runtime: Any) -> MqttLink:
    """Start the link to ``runtime.config.mqtt.broker`` and make ``runtime.link_status`` report it.

    Returns the running `MqttLink` (a `firmware.services.Service`: ``name``, ``where``, ``stop()``).
    A missing TLS file is a `ConfigError` naming the key; everything else (broker down, refused
    password, lost network) is a link *state*, retried with backoff — never a reason to stop the
    device, which keeps measuring into its journal.
    """
    return MqttLink(runtime).start()
