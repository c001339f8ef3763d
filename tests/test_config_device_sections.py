"""The config sections the composition root needs: ``[http]``, ``[mqtt]``, ``[runtime]``."""
import pytest

from firmware.config import load_config
from firmware.config.mqtt import Broker, parse_broker_url
from firmware.errors import ConfigError


@pytest.mark.parametrize("url, broker", [
    ("none", None), ("NONE", None),
    ("mqtt://127.0.0.1", Broker(False, "127.0.0.1", 1883)),      # IANA ports: 1883 plain, 8883 TLS
    ("mqtts://bureau.example:8884", Broker(True, "bureau.example", 8884)),
    ("mqtts://bureau.example", Broker(True, "bureau.example", 8883)),
    ("mqtt://[::1]:1884", Broker(False, "::1", 1884)),
])
def test_broker_urls(url, broker):
    assert parse_broker_url(url) == broker
    if broker is not None:
        assert parse_broker_url(broker.url) == broker


@pytest.mark.parametrize("url, why", [
    ("http://host:1883", "must be mqtt://HOST"), ("mqtt://", "must be mqtt://HOST"),
    ("mqtt://host:99999", "out of range"), ("mqtt://user:pw@host", "credentials do not belong"),
    ("mqtt://host/topic", "no path"),
])
def test_bad_broker_urls_name_the_value(url, why):
    with pytest.raises(ConfigError, match=why) as err:
        load_config(None, {"mqtt": {"broker": url}})
    assert "mqtt.broker" in str(err.value)


def test_command_line_overrides_and_defaults():
    c = load_config(None)
    assert c.mqtt.endpoint is None and c.http.port == 8080 and c.http.enabled
    c = load_config(None, {"http": {"port": 0}, "mqtt": {"broker": "mqtt://h:1"}})
    assert c.http.port == 0 and c.mqtt.endpoint == Broker(False, "h", 1)


def test_button_poll_must_be_faster_than_the_debounce():
    with pytest.raises(ConfigError, match="button_poll_s = 0.02 must be at most half of button_debounce_s = 0.03"):
        load_config(None, {"runtime": {"button_poll_s": 0.02}})
