"""The bureau's one validated config object (`BureauConfig`), read from TOML.

Same rules as the device's config (`firmware.config`): unknown keys are errors, every field says
why it exists, and `load_bureau_config` turns every failure into a `ConfigError` naming file,
key, value and reason (what ``nir-host bureau --check-config`` prints for ``ExecStartPre=``).
Command-line flags (``--db``, ``--broker``, ``--shared``) override the file.

Secrets never live in the file: the MQTT password comes from ``password_file``, else the
secret ``mqtt_password`` as on the device (`firmware.config.secrets`: the systemd credential
``mqtt_password``, then the environment variable ``PLASTINIR_MQTT_PASSWORD``); a PostgreSQL
password from libpq's ``~/.pgpass`` / ``PGPASSFILE``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from firmware.config import validate_file
from firmware.config.base import Section
from firmware.config.model import check_public_keys
from firmware.config.secrets import read_secret
from firmware.contracts import DEFAULT_PREFIX, topic
from firmware.errors import ConfigError

from .database import DEFAULT_URL, parse_url
from .errors import BrokerUrlError, DatabaseUrlError

ENV_CONFIG = "PLASTINIR_BUREAU_CONFIG"
#: The secret's name, as on the device: systemd credential ``mqtt_password``, else ``PLASTINIR_MQTT_PASSWORD``.
PASSWORD_SECRET = "mqtt_password"
_NAME = r"^[A-Za-z0-9._-]{1,64}$"


def parse_broker_url(url: str) -> tuple[bool, str, int]:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` → (tls, host, port); ports default 1883/8883."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BrokerUrlError(f"broker URL {url!r}: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise BrokerUrlError(f"broker URL {url!r} must be mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)")
    if parts.username or parts.password:
        raise BrokerUrlError(f"broker URL {parts.scheme}://…@{parts.hostname}: no credentials in the URL; "
                             "set mqtt.username and a password file or credential")
    if parts.path not in ("", "/") or parts.query:
        raise BrokerUrlError(f"broker URL {url!r} must not have a path or query")
    tls = parts.scheme == "mqtts"
    return tls, parts.hostname, port or (8883 if tls else 1883)


class MqttSettings(Section):
    """How the ingester reaches the broker."""

    broker: str = Field(default="mqtt://127.0.0.1:1883",
                        description="mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS; --broker overrides it.")
    client_id: str = Field(default="nir-bureau", pattern=_NAME,
                           description="MQTT client id; the persistent session is kept under it, so it must be "
                                       "stable across restarts and distinct per ingester.")
    username: Optional[str] = Field(default=None, max_length=64,
                                    description="MQTT user (the broker's ACL gives it read on all units' "
                                                "topics and write on ack and cmd).")
    password_file: Optional[Path] = Field(
        default=None, description="File holding the MQTT password; else the systemd credential "
                                  "'mqtt_password', else $PLASTINIR_MQTT_PASSWORD.")
    ca_file: Optional[Path] = Field(default=None, description="CA bundle for mqtts://; unset: the system's CAs.")
    cert_file: Optional[Path] = Field(default=None, description="Client certificate, if the broker requires one.")
    key_file: Optional[Path] = Field(default=None, description="Key of the client certificate.")
    shared_group: Optional[str] = Field(
        default=None, pattern=_NAME,
        description="Join $share/<group>/… so several ingesters split results, stats and events; "
                    "--shared overrides it.")
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0, le=2**32 - 1,
                                  description="How long the broker keeps the session (and queues results) "
                                              "while the ingester is away.")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive.")
    receive_maximum: int = Field(default=1000, ge=10, le=65535,
                                 description="Unacknowledged messages the broker may send at once: results are "
                                             "PUBACKed only after their commit, so this bounds a batch.")
    reconnect_min_s: float = Field(default=0.5, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest reconnect delay (backoff).")

    @field_validator("broker")
    @classmethod
    def _broker(cls, v: str) -> str:
        try:
            parse_broker_url(v)
        except BrokerUrlError as exc:
            raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "MqttSettings":
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    @property
    def tls(self) -> bool:
        return parse_broker_url(self.broker)[0]

    def password(self) -> str | None:
        """The MQTT password from its file, else the secret ``mqtt_password`` (credential, environment)."""
        if self.password_file is not None:
            try:
                return self.password_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"mqtt.password_file = {str(self.password_file)!r}: cannot read it: "
                                  f"{exc.strerror}") from None
        secret = read_secret(PASSWORD_SECRET)
        return secret.get_secret_value() if secret is not None else None


class IngestSettings(Section):
    """How the ingester batches, limits and trusts."""

    batch_max: int = Field(default=500, ge=1, le=10_000,
                           description="Most messages committed in one transaction.")
    batch_wait_ms: float = Field(default=20.0, ge=0, le=5000,
                                 description="How long a batch waits to fill before it is committed: latency "
                                             "of the ack against commits per second.")
    max_payload_bytes: int = Field(default=512 * 1024, ge=1024,
                                   description="Bigger payloads are quarantined unread (a 4096-point record is "
                                               "about 250 kB).")
    quarantine_keep_bytes: int = Field(default=64 * 1024, ge=0,
                                       description="How much of a quarantined payload is kept (its size and "
                                                   "SHA-256 always are).")
    trust_on_first_use: bool = Field(default=False,
                                     description="Register an unknown unit with the key in its first birth. "
                                                 "For a lab only: anyone who can publish a birth becomes a unit.")
    gap_request_interval_s: float = Field(default=60.0, ge=0,
                                          description="Re-ask a unit for missing seqs (ack with empty stored) at "
                                                      "most this often when it says online, birth or stats.")
    stats_log_interval_s: float = Field(default=60.0, gt=0, description="Log the counters this often.")
    key_cache_ttl_s: float = Field(default=60.0, ge=0,
                                   description="How long a registered key is trusted from memory before the "
                                               "database is asked again.")
    trusted_technicians: Optional[list[str]] = Field(
        default=None,
        description="Base64 Ed25519 keys of the technicians whose calibration certificates are stored. Unset: "
                    "any certificate whose signature verifies against the key it names (tampering is still "
                    "caught; who may certify is then not).")

    @field_validator("trusted_technicians")
    @classmethod
    def _keys_are_ed25519(cls, keys: list[str] | None) -> list[str] | None:
        # a mistyped key would otherwise quarantine every certificate of that technician
        return None if keys is None else check_public_keys(keys)

    @model_validator(mode="after")
    def _consistent(self) -> "IngestSettings":
        if self.quarantine_keep_bytes > self.max_payload_bytes:
            raise ValueError("quarantine_keep_bytes cannot exceed max_payload_bytes")
        return self


class BureauConfig(Section):
    """The whole bureau configuration."""

    db: str = Field(default=DEFAULT_URL, description="sqlite:///PATH or postgresql://…; --db overrides it.")
    prefix: str = Field(default=DEFAULT_PREFIX, description="MQTT topic prefix, as on the units.")
    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="Broker connection.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Batching, limits and trust.")

    @field_validator("db")
    @classmethod
    def _db(cls, v: str) -> str:
        try:
            parse_url(v)
        except DatabaseUrlError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        topic(v, "unit", "result")  # raises ValueError naming the rule
        return v

    @model_validator(mode="after")
    def _receive_window(self) -> "BureauConfig":
        if self.mqtt.receive_maximum < self.ingest.batch_max:
            raise ValueError(f"mqtt.receive_maximum ({self.mqtt.receive_maximum}) must be at least "
                             f"ingest.batch_max ({self.ingest.batch_max}), or batches never fill")
        return self


def load_bureau_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> BureauConfig:
    """Read ``path`` (else ``$PLASTINIR_BUREAU_CONFIG``, else defaults), apply ``overrides``, validate."""
    if path is None and os.environ.get(ENV_CONFIG):
        path = os.environ[ENV_CONFIG]
    return validate_file(BureauConfig, path, overrides)
