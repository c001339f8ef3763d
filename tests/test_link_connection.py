"""The connection: reason codes checked (CONNACK and SUBACK), backoff, TLS + password + the shipped
ACL end to end, the MQTT 5 → 3.1.1 fallback, and callbacks that cannot stop the network loop."""
from __future__ import annotations

import json
import time

import pytest

from firmware.config.mqtt import MqttSection
from firmware.mqtt import MqttLink
from link_support import (FAST, append_results, connected, drained, measure, register, stop_all, stored,
                          unit_with_link)
from support.mqtt import close, connect, subscribe, wait_until
from support.mqtt311_gate import Mqtt311Gate


def settings(url: str, **extra) -> MqttSection:
    return MqttSection.model_validate({"broker": url, **FAST, **extra})


def test_refused_connack_shows_the_reason_and_backs_off(tmp_path, secure_broker_factory, monkeypatch):
    rt, _ = unit_with_link(tmp_path / "unit", "mqtt://127.0.0.1:1", start_link=False, reference=False)
    broker = secure_broker_factory(rt.identity.unit)
    monkeypatch.setenv("PLASTINIR_MQTT_PASSWORD", "not-the-password")
    link = MqttLink(rt, settings(broker.url, reconnect_min_s=0.05, reconnect_max_s=0.4)).start()
    try:
        seen = set()
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:
            seen.add(link.status.state)
            time.sleep(0.01)
        status = rt.link_status()
        assert "connected" not in seen and "subscribing" not in seen
        # Mosquitto 2.0 answers a wrong password with 0x87 "Not authorized" (0x86 in later versions)
        assert status["state"] == "refused"
        assert "Not authorized" in status["detail"] or "Bad user name or password" in status["detail"]
        assert "retrying with backoff" in status["detail"]
        refused = link.counters()["connect_refused"]
        # waits 0.05, 0.1, 0.2, 0.4, 0.4 …: about six attempts in 1.6 s (at a constant 0.05 s: 30)
        assert 3 <= refused <= 9, refused
        append_results(rt, 2)
        time.sleep(0.3)
        assert rt.journal.depth() == 2 and link.counters().get("results_sent", 0) == 0
    finally:
        stop_all(link, rt)


def test_refused_subscription_is_not_connected():
    """SUBACK with a failure code (an ACL that refuses the unit its ack topic) → never "connected".

    Mosquitto grants subscriptions and filters at delivery, so the SUBACK is fed to the callback
    as paho decodes it."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode
    from firmware.mqtt.connection import Connection
    from firmware.mqtt.status import LinkStatus
    events = []
    status = LinkStatus("mqtt://127.0.0.1:1883")
    conn = Connection(settings("mqtt://127.0.0.1:1883"), "nir-0123456789ab", status=status, notify=events.append,
                      on_command=lambda *a: None, window=10)
    conn.generation = 1
    conn._sub_mids[7] = ["plastinir/nir-0123456789ab/ack", "plastinir/nir-0123456789ab/cmd/+"]
    conn._on_subscribe(1, 7, [ReasonCode(PacketTypes.SUBACK, identifier=0x87), ReasonCode(PacketTypes.SUBACK,
                                                                                           identifier=1)])
    assert status.state == "refused" and events == []
    assert "ack (Not authorized)" in status.as_dict()["detail"] and "ACL" in status.as_dict()["detail"]
    conn._sub_mids[8] = ["plastinir/nir-0123456789ab/ack", "plastinir/nir-0123456789ab/cmd/+"]
    conn._on_subscribe(1, 8, [ReasonCode(PacketTypes.SUBACK, identifier=1)] * 2)
    assert status.state == "connected" and events == [("up", 1)]


def test_tls_password_and_acl_end_to_end(tmp_path, secure_broker_factory, bureau_factory, monkeypatch):
    rt, _ = unit_with_link(tmp_path / "unit", "mqtt://127.0.0.1:1", start_link=False)
    unit = rt.identity.unit
    broker = secure_broker_factory(unit)
    db_url = f"sqlite:///{tmp_path / 'bureau.db'}"
    register(db_url, rt)
    pw_file = tmp_path / "bureau-password"
    pw_file.write_text(broker.users["bureau"])
    bureau_factory(db_url, broker.tls_url, mqtt__username="bureau", mqtt__password_file=str(pw_file),
                   mqtt__ca_file=str(broker.ca_file))
    monkeypatch.setenv("PLASTINIR_MQTT_PASSWORD", broker.users[unit])   # user name: the unit id (ACL %u)
    link = MqttLink(rt, settings(broker.tls_url, ca_file=str(broker.ca_file))).start()
    try:
        assert connected(link), rt.link_status()
        seqs = [measure(rt, "pet")["seq"]] + append_results(rt, 5)
        assert drained(rt)
        assert stored(db_url, unit) == seqs
        # a command from the bureau's user, answered under the unit's own cmd/<name>/reply/… (the ACL)
        req = connect(broker.tls_url, username="bureau", password=broker.users["bureau"], ca_file=broker.ca_file)
        try:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
            replies = subscribe(req, f"plastinir/{unit}/cmd/reload/reply/#")
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = f"plastinir/{unit}/cmd/reload/reply/ws-1"
            props.CorrelationData = b"c-1"
            req.publish(f"plastinir/{unit}/cmd/reload", b'{"schema": "plastinir.cmd/1"}', qos=1, properties=props)
            assert replies.wait_for(lambda msgs: len(msgs) == 1, 10)
            assert replies.messages[0].properties.CorrelationData == b"c-1"
        finally:
            close(req)
        assert link.counters().get("publish_refused", 0) == 0
    finally:
        stop_all(link, rt)


def test_missing_tls_file_is_a_config_error_naming_the_key(tmp_path):
    from firmware.errors import ConfigError
    rt, _ = unit_with_link(tmp_path / "unit", "mqtts://127.0.0.1:1", start_link=False, reference=False)
    try:
        with pytest.raises(ConfigError, match=r"mqtt.ca_file = '.*nowhere.pem'"):
            MqttLink(rt, settings("mqtts://127.0.0.1:1", ca_file=str(tmp_path / "nowhere.pem"))).start()
    finally:
        rt.close()


def test_falls_back_to_mqtt_311_and_still_delivers(tmp_path, broker, bureau_factory):
    """Behind the gate Mosquitto refuses MQTT 5 like a 3.1.1-only broker; the bureau talks 5 to it
    directly. The unit falls back, delivers, and answers commands on cmd/<name>/reply."""
    gate = Mqtt311Gate(broker.port).start()
    db_url = f"sqlite:///{tmp_path / 'bureau.db'}"
    bureau_factory(db_url, broker.url)
    rt, link = unit_with_link(tmp_path / "unit", gate.url)
    watcher = connect(broker.url)
    try:
        register(db_url, rt)
        status = subscribe(watcher, f"plastinir/{rt.identity.unit}/status")
        replies = subscribe(watcher, f"plastinir/{rt.identity.unit}/cmd/+/reply")
        assert connected(link), rt.link_status()
        assert gate.refused_v5 >= 1 and link.connection.protocol_name == "3.1.1"
        assert rt.link_status()["detail"].startswith("MQTT 3.1.1")
        seqs = [measure(rt, "pla")["seq"]] + append_results(rt, 10)
        assert drained(rt)
        assert stored(db_url, rt.identity.unit) == seqs
        assert status.wait_for(lambda msgs: any(m.payload == b"online" for m in msgs), 5)
        watcher.publish(f"plastinir/{rt.identity.unit}/cmd/reload", b'{"schema": "plastinir.cmd/1"}', qos=1)
        assert replies.wait_for(lambda msgs: len(msgs) == 1, 10)
        assert replies.messages[0].topic.endswith("/cmd/reload/reply")
        assert json.loads(replies.messages[0].payload)["command"] == "reload"
    finally:
        close(watcher)
        stop_all(link, rt)
        gate.stop()


def test_amqtt_broker_of_the_demo(tmp_path):
    """The demo's fallback broker (pure-Python amqtt, MQTT 3.1.1; in the `test` and `demo` extras)."""
    pytest.importorskip("amqtt", reason="amqtt not installed (it comes with the test extra: "
                                        "pip install -e '.[host,test]', as make test does)")
    from firmware.ack import build_acks
    from firmware.mqtt.embedded import start_embedded_broker
    amqtt = start_embedded_broker(tmp_path, port=0, prefer="amqtt")
    rt = link = None
    try:
        rt, link = unit_with_link(tmp_path / "unit", amqtt.url, connack_timeout_s=1.0)
        import paho.mqtt.client as mqtt
        bureau = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="mini-bureau", protocol=mqtt.MQTTv311)

        def ack(client, userdata, message):   # a minimal bureau: acknowledge what arrives
            seq = json.loads(message.payload)["seq"]
            for payload in build_acks([seq], []):
                client.publish(f"plastinir/{rt.identity.unit}/ack", payload, qos=1)
        bureau.on_message = ack
        bureau.on_connect = lambda c, u, f, rc, p: c.subscribe(f"plastinir/{rt.identity.unit}/result", 1)
        bureau.connect(amqtt.url.split("//")[1].split(":")[0], amqtt.port)
        bureau.loop_start()
        assert connected(link, 15), rt.link_status()
        assert link.connection.protocol_name == "3.1.1"
        append_results(rt, 5)
        assert drained(rt, 15)
        bureau.disconnect()
        bureau.loop_stop()
    finally:
        stop_all(link, rt)
        amqtt.stop()


def test_an_exception_inside_a_callback_does_not_stop_the_network_loop(tmp_path, broker, bureau_factory, caplog):
    db_url = f"sqlite:///{tmp_path / 'bureau.db'}"
    rt, link = unit_with_link(tmp_path / "unit", broker.url)
    try:
        register(db_url, rt)
        assert connected(link)
        real = link.connection.notify
        calls = {"n": 0}

        def broken(item):               # the first ack makes the on_message callback raise
            if item[0] == "ack" and calls["n"] == 0:
                calls["n"] += 1
                raise RuntimeError("injected failure in a callback")
            real(item)
        link.connection.notify = broken
        bureau_factory(db_url, broker.url)
        append_results(rt, 3)
        assert wait_until(lambda: calls["n"] == 1, 10)
        assert drained(rt, 10)         # the lost ack is made good by the resend timer, the loop lives on
        assert link.counters()["callback_errors"] == 1
        assert link.connection.client._thread.is_alive() and link.status.state == "connected"
        assert "error in MQTT callback on_message" in caplog.text
    finally:
        stop_all(link, rt)
