"""``[mqtt]``: the link's settings validated like every section (file, key, value, reason), and the
password only from the secret ``mqtt_password``."""
from __future__ import annotations

import pytest

from firmware.config import load_config
from firmware.config.mqtt import MqttSection
from firmware.errors import ConfigError
from firmware.mqtt.client import credentials


def test_defaults_and_overrides():
    m = load_config(None).mqtt
    assert (m.prefix, m.protocol, m.qos, m.inflight_window, m.resend_after_s) == ("plastinir", "auto", 1, 100, 60.0)
    m = load_config(None, {"mqtt": {"broker": "mqtts://bureau.example", "prefix": "city/nir", "protocol": "3.1.1",
                                    "resend_after_s": 5}}).mqtt
    assert m.endpoint.tls and m.endpoint.port == 8883 and m.prefix == "city/nir" and m.resend_after_s == 5.0


@pytest.mark.parametrize("section, why", [
    ({"prefix": "plastinir/#"}, "mqtt.prefix = 'plastinir/#'"),
    ({"prefix": "/plastinir"}, "leading/trailing '/'"),
    ({"qos": 0}, "mqtt.qos = 0"),
    ({"protocol": "4"}, "mqtt.protocol = '4'"),
    ({"inflight_window": 0}, "mqtt.inflight_window = 0"),
    ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "must not exceed reconnect_max_s"),
    ({"cert_file": "/etc/unit.crt"}, "cert_file and key_file go together"),
    ({"password": "secret"}, "unknown key 'mqtt.password'"),          # never in the file
    ({"client_id": "a b"}, "mqtt.client_id = 'a b'"),
])
def test_bad_values_name_the_key(section, why):
    with pytest.raises(ConfigError) as err:
        load_config(None, {"mqtt": section})
    assert why in str(err.value)


def test_password_from_the_secret_and_user_defaults_to_the_unit(monkeypatch, tmp_path):
    s = MqttSection(broker="mqtt://127.0.0.1:1883")
    monkeypatch.delenv("PLASTINIR_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert credentials(s, "nir-0123456789ab") == (None, None)          # anonymous
    monkeypatch.setenv("PLASTINIR_MQTT_PASSWORD", "from-env")
    assert credentials(s, "nir-0123456789ab") == ("nir-0123456789ab", "from-env")
    (tmp_path / "mqtt_password").write_text("from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert credentials(MqttSection(broker="mqtt://h", username="u1"), "nir-x") == ("u1", "from-credential")

