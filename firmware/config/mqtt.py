"""``[mqtt]``: the device's MQTT link to the bureau (DESIGN.md, MQTT contract; docs/LINK.md).

``broker`` is the URL (``nir-device run --broker URL`` overrides it; ``none`` runs without a
link: results wait in the journal's outbox for the next run that has one). The rest tunes the
link: topic prefix, client id, protocol, TLS files, user name, and the store-and-forward timers.

The password is never a key here: it is the secret ``mqtt_password`` (systemd credential, then
``PLASTINIR_MQTT_PASSWORD``; `firmware.config.secrets`), because a config file is copied,
printed and committed to examples. A TLS key's passphrase likewise is ``mqtt_key_password``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from ..contracts import DEFAULT_PREFIX, topic
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

    prefix: str = Field(
        default=DEFAULT_PREFIX,
        description="Topic prefix: the unit publishes on <prefix>/<unit>/… (the broker's ACL names it too).")
    client_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="MQTT client id; unset = the unit id (one connection per unit: a second one with the "
                    "same id takes over the session).")
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        default="auto",
        description="MQTT protocol: 'auto' = 5, falling back to 3.1.1 when the broker refuses 5 (no response "
                    "topics then: command replies go to <prefix>/<unit>/cmd/<name>/reply).")
    keepalive_s: int = Field(
        default=30, ge=5, le=3600,
        description="Keep-alive: the broker publishes the Last Will 'offline' after 1.5 × this without a packet.")
    qos: Literal[1, 2] = Field(
        default=1, description="QoS of results and events (the contract's 1; 2 costs a round trip more).")
    ca_file: Path | None = Field(
        default=None,
        description="CA certificate(s) that signed the broker's certificate (mqtts://); unset = the system CAs.")
    cert_file: Path | None = Field(
        default=None, description="Client certificate for brokers that require one (mqtts://, with key_file).")
    key_file: Path | None = Field(
        default=None,
        description="Private key of cert_file (its passphrase, if any, is the secret mqtt_key_password).")
    username: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="MQTT user name; unset = the unit id when the secret mqtt_password is set (the shipped "
                    "ACL gives each unit id its own topics), else anonymous.")
    resend_after_s: float = Field(
        default=60.0, ge=0.05, le=86400.0,
        description="Publish a result again when the bureau has not acknowledged storing it this long after "
                    "it was sent (PUBACK is not delivery: a broker can die before delivering).")
    inflight_window: int = Field(
        default=100, ge=1, le=10000,
        description="Results sent and not yet acknowledged by the bureau at once: the backlog after an "
                    "outage drains in seq order through this window instead of flooding the broker.")
    stats_interval_s: float = Field(
        default=60.0, ge=0.1, le=86400.0, description="Seconds between plastinir.stats/1 health messages.")
    alarm_after_s: float = Field(
        default=3600.0, ge=0.1, le=30 * 86400.0,
        description="Journal an event/link warning when the oldest unacknowledged result is older than this "
                    "(an error at 4 ×): results that are not reaching the bureau's database.")
    reconnect_min_s: float = Field(
        default=1.0, ge=0.01, le=3600.0, description="First reconnect delay; doubled after each failure ...")
    reconnect_max_s: float = Field(
        default=60.0, ge=0.01, le=3600.0, description="... up to this.")
    connack_timeout_s: float = Field(
        default=10.0, ge=0.5, le=300.0,
        description="A connection without CONNACK after this long is given up (and, with protocol 'auto', "
                    "tried with the other protocol: some MQTT 3.1.1 brokers never answer an MQTT 5 CONNECT).")
    max_command_mb: float = Field(
        default=48.0, gt=0, le=512.0,
        description="Largest command payload accepted (a model package travels base64-encoded in one).")

    @field_validator("broker")
    @classmethod
    def _url(cls, value: str) -> str:
        parse_broker_url(value)
        return value.strip()

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        topic(value, "unit", "status")  # the contract's rules for a prefix, in one place
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "MqttSection":
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(f"reconnect_min_s ({self.reconnect_min_s}) must not exceed reconnect_max_s "
                             f"({self.reconnect_max_s})")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (a client certificate needs its key)")
        return self

    @property
    def endpoint(self) -> Broker | None:
        """The parsed broker, or None when the device runs without a link."""
        return parse_broker_url(self.broker)
