"""A configured paho-mqtt 2.x client for the unit: protocol, TLS, credentials, Last Will, backoff.

Kept apart from the connection logic so every choice that touches security sits in one short
function: TLS verifies the broker's certificate and host name (``CERT_REQUIRED``, never
``tls_insecure``), the password comes only from the secret ``mqtt_password``, and the Last
Will is the retained ``offline`` on ``<prefix>/<unit>/status`` that the broker publishes when
the unit vanishes without a clean DISCONNECT (power cut, crash, SIGKILL, lost network).
"""
from __future__ import annotations

import ssl
from pathlib import Path

import paho.mqtt.client as mqtt

from ..config.mqtt import MqttSection
from ..config.secrets import read_secret
from ..contracts import topic
from ..errors import ConfigError

#: ``mqtt.protocol`` → paho protocol constants, and back for the status page.
PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
PROTOCOL_NAMES = {v: k for k, v in PROTOCOLS.items()}
#: Extra QoS>0 messages paho may have in flight beyond the results window (events, status, birth,
#: calibration, command replies), so they never wait behind a full window of results.
INFLIGHT_HEADROOM = 32


def check_files(settings: MqttSection) -> None:
    """TLS files must exist and be readable: say which key names a missing one, before connecting."""
    for key in ("ca_file", "cert_file", "key_file"):
        path: Path | None = getattr(settings, key)
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(f"mqtt.{key} = {str(path)!r}: {exc.strerror or exc}") from None


#: The secrets the link reads (`firmware.config.secrets`; systemd credentials of nir-device.service).
PASSWORD_SECRET = "mqtt_password"
KEY_PASSWORD_SECRET = "mqtt_key_password"


def credentials(settings: MqttSection, unit: str) -> tuple[str | None, str | None]:
    """(user name, password): the password only from the secret; the user name defaults to the
    unit id when there is a password, which is what the shipped ACL's ``%u`` patterns expect."""
    secret = read_secret(PASSWORD_SECRET)
    password = secret.get_secret_value() if secret is not None else None
    username = settings.username or (unit if password is not None else None)
    return username, password


def make_client(settings: MqttSection, unit: str, protocol: int, *, window: int) -> mqtt.Client:
    """A configured client, not yet connected. ``protocol`` is ``mqtt.MQTTv5`` or ``mqtt.MQTTv311``."""
    endpoint = settings.endpoint
    if endpoint is None:
        raise ConfigError("mqtt.broker is 'none': there is no broker to connect to")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id or unit,
                         protocol=protocol)  # MQTT 3.1.1: clean session by default
    if endpoint.tls:
        key_password = read_secret(KEY_PASSWORD_SECRET)
        try:
            client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None,
                           certfile=str(settings.cert_file) if settings.cert_file else None,
                           keyfile=str(settings.key_file) if settings.key_file else None,
                           keyfile_password=key_password.get_secret_value() if key_password else None,
                           cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigError(f"mqtt TLS files (ca_file, cert_file, key_file): {exc}") from None
    username, password = credentials(settings, unit)
    if username is not None:
        client.username_pw_set(username, password)
    client.will_set(topic(settings.prefix, unit, "status"), b"offline", qos=1, retain=True)
    client.reconnect_delay_set(min_delay=settings.reconnect_min_s, max_delay=settings.reconnect_max_s)
    client.max_inflight_messages_set(window + INFLIGHT_HEADROOM)
    client.max_queued_messages_set(0)  # the journal is the queue; the link bounds what it hands paho
    return client


def connect_async(client: mqtt.Client, settings: MqttSection, protocol: int) -> None:
    """Start connecting in the background; the loop thread keeps retrying with backoff.

    A clean session every time: the journal, not the broker, holds what the unit still owes, and
    a command queued by the broker while the unit was away must not run by surprise hours later.
    """
    endpoint = settings.endpoint
    assert endpoint is not None
    kwargs = {"clean_start": True} if protocol == mqtt.MQTTv5 else {}
    client.connect_async(endpoint.host, endpoint.port, keepalive=settings.keepalive_s, **kwargs)
