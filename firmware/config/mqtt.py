"""``[mqtt]``: the broker the device link publishes to (DESIGN.md, MQTT contract).

Only the broker URL lives here so far: ``nir-device run --broker URL`` overrides it, ``none``
runs without a link (results wait in the journal's outbox for the next run that has one). The
MQTT link adds its own settings (TLS files, credentials, prefix, timers) to this section.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from .base import Section

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
NO_BROKER = "none"


@dataclass(frozen=True)
class Broker:
    """A parsed broker URL: ``mqtts`` means TLS."""

    tls: bool
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


def parse_broker_url(text: str) -> Broker | None:
    """``mqtt://host[:port]`` / ``mqtts://host[:port]`` → `Broker`; ``none`` → None; else `ValueError`."""
    text = text.strip()
    if text.lower() == NO_BROKER:
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"broker URL {text!r}: {exc}") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"broker URL {text!r} must be mqtt://HOST[:PORT], mqtts://HOST[:PORT] (TLS) or 'none'")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL {text!r}: no path, query or fragment allowed")
    if parts.username or parts.password:
        raise ValueError(f"broker URL {text!r}: credentials do not belong in the URL (use the mqtt_password "
                         f"secret)")
    return Broker(parts.scheme == "mqtts", parts.hostname, port or DEFAULT_PORTS[parts.scheme])


class MqttSection(Section):
    broker: str = Field(
        default=NO_BROKER,
        description="mqtt://HOST[:PORT], mqtts://HOST[:PORT] (TLS), or 'none' for no link; "
                    "`--broker` overrides it.")

    @field_validator("broker")
    @classmethod
    def _url(cls, value: str) -> str:
        parse_broker_url(value)
        return value.strip()

    @property
    def endpoint(self) -> Broker | None:
        """The parsed broker, or None when the device runs without a link."""
        return parse_broker_url(self.broker)
