"""The bureau's config, its examples (TOML, Mosquitto, systemd) and ``--check-config``."""
from __future__ import annotations

import configparser
import os
import shlex
import subprocess

import pytest

from firmware.errors import ConfigError
from host.bureau.config import load_bureau_config, parse_broker_url
from host.bureau.errors import BrokerUrlError
from host.cli import main
from support.mqtt import ConnectRefused, close, connect, subscribe
from support.pki import TestCA
from support.ports import free_port, wait_listening

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "config" / "bureau.example.toml"


def test_example_config_is_valid_and_complete():
    config = load_bureau_config(EXAMPLE)
    assert config.db.startswith("postgresql://") and config.mqtt.username == "bureau"
    assert config.ingest.trust_on_first_use is False
    # every setting is shown in the example (commented or not), so operators can find it
    text = EXAMPLE.read_text()
    for section in (config.mqtt, config.ingest):
        for name in type(section).model_fields:
            assert f"{name} =" in text, name


def test_unknown_key_and_bad_values_name_file_key_value(tmp_path):
    path = tmp_path / "bureau.toml"
    path.write_text('[mqtt]\nbrokr = "mqtt://x:1"\n')
    with pytest.raises(ConfigError) as err:
        load_bureau_config(path)
    assert f"{path}: unknown key 'mqtt.brokr' (value 'mqtt://x:1')" in str(err.value)
    path.write_text('db = "mysql://x/y"\n[ingest]\nbatch_max = 0\n')
    with pytest.raises(ConfigError) as err:
        load_bureau_config(path)
    assert f"{path}: key ingest.batch_max = 0: Input should be greater than or equal to 1" in str(err.value)
    assert "key db = 'mysql://x/y'" in str(err.value) and "unsupported database URL" in str(err.value)
    path.write_text('[ingest]\ntrusted_technicians = ["not-a-key"]\n')
    with pytest.raises(ConfigError, match=r"key ingest.trusted_technicians = \['not-a-key'\]: entry 0 is not a base64 "
                                          r"Ed25519 public key"):
        load_bureau_config(path)
    path.write_text('[mqtt]\nreceive_maximum = 100\n[ingest]\nbatch_max = 500\n')
    with pytest.raises(ConfigError, match=r"receive_maximum \(100\) must be at least ingest.batch_max \(500\)"):
        load_bureau_config(path)


def test_broker_urls():
    assert parse_broker_url("mqtt://h") == (False, "h", 1883)
    assert parse_broker_url("mqtts://h:9000") == (True, "h", 9000)
    for bad in ("http://h:1", "mqtt://user:pw@h:1", "mqtt://h:1/path", "mqtt://h:99999"):
        with pytest.raises(BrokerUrlError):
            parse_broker_url(bad)


def test_password_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("PLASTINIR_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    mqtt = load_bureau_config(None, {"mqtt": {"username": "bureau"}}).mqtt
    assert mqtt.password() is None
    monkeypatch.setenv("PLASTINIR_MQTT_PASSWORD", "from-env")
    assert mqtt.password() == "from-env"
    # the same secret as the device's (firmware.config.secrets): the systemd credential first
    (tmp_path / "mqtt_password").write_text("from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert mqtt.password() == "from-systemd"
    (tmp_path / "pw").write_text("from-file\n")
    assert load_bureau_config(None, {"mqtt": {"password_file": str(tmp_path / "pw")}}).mqtt.password() == "from-file"
    missing = load_bureau_config(None, {"mqtt": {"password_file": str(tmp_path / "nope")}}).mqtt
    with pytest.raises(ConfigError, match="mqtt.password_file = .*nope.*cannot read it"):
        missing.password()


def test_check_config_cli(tmp_path, capsys):
    assert main(["bureau", "--config", str(EXAMPLE), "--check-config", "--db", "postgresql://u:secret@h/b"]) == 0
    out = capsys.readouterr().out
    assert "secret" not in out and '"db": "postgresql://u:***@h/b"' in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[ingest]\ntrust_on_first_use = 'maybe'\n")
    assert main(["bureau", "--config", str(bad), "--check-config"]) == 1
    assert "key ingest.trust_on_first_use = 'maybe'" in capsys.readouterr().err


def test_systemd_unit_runs_commands_that_exist(monkeypatch, capsys):
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read(REPO / "systemd" / "nir-bureau.service")
    service = unit["Service"]
    assert service["Type"] == "notify" and "WatchdogSec" in service
    pre = shlex.split(service["ExecStartPre"])
    assert pre[0].endswith("/nir-host") and shlex.split(service["ExecStart"])[1:] == ["bureau"]
    monkeypatch.setenv("PLASTINIR_BUREAU_CONFIG", str(EXAMPLE))
    assert main(pre[1:]) == 0
    assert "ok" in capsys.readouterr().out


@pytest.mark.broker
def test_mosquitto_example_config_starts_and_enforces_passwords(tmp_path, mosquitto_bin):
    """The shipped broker config, with its paths and ports moved into a temp dir, runs as written."""
    ca = TestCA(tmp_path / "certs")
    server = ca.issue("localhost", server=True)
    server.cert.rename(tmp_path / "certs" / "server.crt")
    server.key.rename(tmp_path / "certs" / "server.key")
    (tmp_path / "plastinir.acl").write_text((REPO / "config" / "mosquitto" / "acl.example").read_text())
    (tmp_path / "plastinir.passwd").write_text("bureau:pw-bureau\nnir-unit-1:pw-unit\n")
    subprocess.run(["mosquitto_passwd", "-U", str(tmp_path / "plastinir.passwd")], check=True)
    (tmp_path / "persist").mkdir()
    plain, tls = free_port(), free_port()
    text = (REPO / "config" / "mosquitto" / "mosquitto.conf.example").read_text()
    text = (text.replace("/etc/mosquitto/", f"{tmp_path}/").replace("/var/lib/mosquitto/", f"{tmp_path}/persist/")
            .replace("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1")
            .replace("listener 8883", f"listener {tls} 127.0.0.1"))
    conf = tmp_path / "mosquitto.conf"
    # as root Mosquitto would drop to the 'mosquitto' user, who cannot read the temp dir
    conf.write_text(("user root\n" if os.geteuid() == 0 else "") + text)
    proc = subprocess.Popen([mosquitto_bin, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_listening("127.0.0.1", tls, 10, lambda: proc.poll() is None), proc.stderr.read().decode()
        with pytest.raises(ConnectRefused):
            connect(f"mqtt://127.0.0.1:{plain}")
        client = connect(f"mqtts://127.0.0.1:{tls}", username="nir-unit-1", password="pw-unit", ca_file=ca.cert_file)
        try:
            subscribe(client, "plastinir/nir-unit-1/ack")
        finally:
            close(client)
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()
