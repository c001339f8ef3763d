"""``<prefix>/<unit>/cmd/<name>`` answered on the MQTT v5 response topic with the correlation data
(docs/MQTT.md): measure, reference, model (good and refused), reload, calibration, malformed,
busy — a real broker, a simulated unit and its link, a requester like a technician's workstation."""
from __future__ import annotations

import base64
import io
import json
import threading
import uuid
import zipfile

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device_support import FPI_PACKAGE
from firmware.record import verify_record
from link_support import connected, stop_all, unit_with_link
from support.mqtt import close, connect, subscribe


class Requester:
    """Sends ``plastinir.cmd/1`` with a response topic and correlation data; collects replies."""

    def __init__(self, url: str, unit: str) -> None:
        self.unit = unit
        self.client = connect(url)
        self.replies = subscribe(self.client, f"plastinir/{unit}/cmd/+/reply/#")

    def send(self, name: str, body: bytes | dict, *, retain: bool = False) -> bytes:
        correlation = uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = f"plastinir/{self.unit}/cmd/{name}/reply/bench-7"
        props.CorrelationData = correlation
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.client.publish(f"plastinir/{self.unit}/cmd/{name}", payload, qos=1, retain=retain,
                            properties=props).wait_for_publish(5)
        return correlation

    def reply(self, correlation: bytes, timeout: float = 30.0) -> dict:
        def match(msgs):
            return any(getattr(m.properties, "CorrelationData", None) == correlation for m in msgs)
        assert self.replies.wait_for(match, timeout), "no reply with that correlation data"
        message = next(m for m in self.replies.messages if getattr(m.properties, "CorrelationData", None) == correlation)
        assert message.topic.endswith("/reply/bench-7")
        doc = json.loads(message.payload)
        assert doc["schema"] == "plastinir.cmd-reply/1" and set(doc) == {"schema", "command", "ok", "error", "result"}
        return doc

    def call(self, name: str, args: dict | None = None, **kw) -> dict:
        return self.reply(self.send(name, {"schema": "plastinir.cmd/1", "args": args or {}}), **kw)

    def close(self) -> None:
        close(self.client)


@pytest.fixture
def unit(tmp_path, broker):
    rt, link = unit_with_link(tmp_path / "unit", broker.url)
    assert connected(link)
    req = Requester(broker.url, rt.identity.unit)
    yield rt, link, req
    req.close()
    stop_all(link, rt)


def zipped(folder, tamper: bool = False) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.iterdir()):
            data = path.read_bytes()
            if tamper and path.name == "manifest.json":
                manifest = json.loads(data)
                manifest["limits"] = {k: v * 10 if isinstance(v, (int, float)) else v
                                      for k, v in manifest["limits"].items()}
                data = json.dumps(manifest).encode()
            zf.writestr(path.name, data)
    return base64.b64encode(buf.getvalue()).decode()


def test_measure_and_reference_commands(unit):
    rt, link, req = unit
    rt.board.sim.place("white")
    doc = req.call("reference", {"kind": "white"})
    assert doc["ok"] and doc["command"] == "reference" and doc["result"]["reference"]["kind"] == "white"
    rt.board.sim.place("pla", package=rt.models.current().model.package)
    doc = req.call("measure", {"sample": {"sample_id": "MQ-1", "merchant": "Shop B"}, "operator": "insp-3"})
    assert doc["ok"] and doc["error"] is None
    record = doc["result"]["record"]
    verify_record(record, rt.identity.public_key)
    assert record["sample"]["sample_id"] == "MQ-1" and record["operator"] == "insp-3" and record["class"] == "PLA"
    assert rt.journal.get(record["seq"]) == record          # journaled like any other result
    bad = req.call("measure", {"sample": {"colour": "red"}})
    assert not bad["ok"] and "unknown field 'colour'" in bad["error"]
    bad = req.call("reference", {"kind": "grey"})
    assert not bad["ok"] and "'white' or 'dark'" in bad["error"]


def test_model_command_installs_a_good_package_and_refuses_a_tampered_one(unit):
    rt, link, req = unit
    before = rt.model_info()["sha256"]
    refused = req.call("model", {"package_b64": zipped(FPI_PACKAGE, tamper=True)})
    assert not refused["ok"] and "signature" in refused["error"]
    assert rt.model_info()["sha256"] == before                # previous model kept
    assert not req.call("model", {"package_b64": "%%% not base64"})["ok"]
    good = req.call("model", {"package_b64": zipped(FPI_PACKAGE)})
    assert good["ok"], good["error"]
    assert good["result"]["installed"]["name"] == "fpi-1550-1850-v1"
    assert not list((rt.state_dir / "incoming").iterdir())   # the uploaded zip is not left behind


def test_reload_command_applies_the_changed_config(tmp_path, broker):
    from firmware.config import load_config
    from firmware.mqtt import MqttLink
    from firmware.runtime import DeviceRuntime
    path = tmp_path / "device.toml"
    text = (f'[hardware]\nbackend = "sim"\n[clock]\nsynced = "never"\n[http]\nenabled = false\n'
            f'[mqtt]\nbroker = "{broker.url}"\n[measurement]\nn_scans = 3\n')
    path.write_text(text)
    rt = DeviceRuntime(load_config(path), state_dir=tmp_path / "unit", config_path=path)
    rt.start()
    link = MqttLink(rt).start()
    req = Requester(broker.url, rt.identity.unit)
    try:
        assert connected(link)
        path.write_text(text.replace("n_scans = 3", "n_scans = 5"))
        doc = req.call("reload")
        assert doc["ok"] and doc["result"]["applied"] == ["measurement"] and doc["result"]["restart_needed"] == []
        assert rt.config.measurement.n_scans == 5
        path.write_text(text.replace("n_scans = 3", "n_scans = 0"))
        bad = req.call("reload")
        assert not bad["ok"] and "measurement.n_scans" in bad["error"] and rt.config.measurement.n_scans == 5
    finally:
        req.close()
        stop_all(link, rt)


def test_calibration_command_installs_a_signed_certificate_and_publishes_it(tmp_path, broker):
    from calibration_support import certificate
    from firmware.signing import generate_key, public_key_b64
    tech, stranger = generate_key(), generate_key()
    rt, link = unit_with_link(tmp_path / "unit", broker.url,
                              sections={"calibration": {"trusted_keys": [public_key_b64(tech)]}})
    req = Requester(broker.url, rt.identity.unit)
    try:
        assert connected(link)
        retained = subscribe(req.client, f"plastinir/{rt.identity.unit}/calibration")
        births = subscribe(req.client, f"plastinir/{rt.identity.unit}/birth")
        refused = req.call("calibration", {"certificate": certificate(rt.identity.unit, stranger, cid="cal-x")})
        assert not refused["ok"] and "a key this unit does not trust" in refused["error"]
        assert rt.calibration_id() is None
        assert not req.call("calibration", {"certificate": "not a document"})["ok"]
        doc = req.call("calibration", {"certificate": certificate(rt.identity.unit, tech, cid="cal-mq-1")})
        assert doc["ok"], doc["error"]
        assert doc["result"]["state"] == "ready" and rt.calibration_id() == "cal-mq-1"
        assert retained.wait_for(lambda msgs: any(json.loads(m.payload).get("calibration_id") == "cal-mq-1"
                                                  for m in msgs), 5)
        assert births.wait_for(lambda msgs: json.loads(msgs[-1].payload)["calibration_id"] == "cal-mq-1", 5)
    finally:
        req.close()
        stop_all(link, rt)


def test_malformed_commands(unit):
    rt, link, req = unit
    cases = [("measure", b"{not json", "not JSON"),
             ("measure", b'{"schema": "plastinir.cmd/9", "args": {}}', "schema"),
             ("measure", b'[1, 2]', "JSON object"),
             ("reload", b'{"schema": "plastinir.cmd/1", "args": {"now": true}}', "unknown argument"),
             ("measure", b'{"schema": "plastinir.cmd/1", "args": [1]}', "args must be"),
             ("selfdestruct", b'{"schema": "plastinir.cmd/1"}', "unknown command 'selfdestruct'")]
    for name, body, why in cases:
        doc = req.reply(req.send(name, body))
        assert not doc["ok"] and why in doc["error"], (name, body, doc)
    assert link.status.state == "connected" and link.counters().get("callback_errors", 0) == 0
    assert req.call("reload")["ok"]                            # still answering


def test_a_retained_command_does_not_run_again_on_reconnect(unit):
    from firmware.mqtt import MqttLink
    rt, link, req = unit
    correlation = req.send("reload", {"schema": "plastinir.cmd/1"}, retain=True)
    assert req.reply(correlation)["ok"]       # delivered live (the broker clears the retain flag): it runs
    link.stop()
    link = MqttLink(rt).start()               # re-subscribing delivers the retained copy: refused
    try:
        def replies(msgs):
            return [m for m in msgs if getattr(m.properties, "CorrelationData", None) == correlation]
        assert req.replies.wait_for(lambda msgs: len(replies(msgs)) == 2, 10)
        again = json.loads(replies(req.replies.messages)[1].payload)
        assert not again["ok"] and "retained command ignored" in again["error"]
        req.client.publish(f"plastinir/{rt.identity.unit}/cmd/reload", b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        link.stop()


def test_a_second_command_while_one_runs_is_answered_busy(tmp_path, broker):
    rt, link = unit_with_link(tmp_path / "unit", broker.url, reference=True)
    req = Requester(broker.url, rt.identity.unit)
    try:
        assert connected(link)
        rt.board.sim.clock.time_scale = 0.1   # a measurement now takes ~0.3 s (a tenth of the physical time)
        body = {"schema": "plastinir.cmd/1", "args": {"sample": {"sample_id": "B-1"}}}
        first, second = req.send("measure", body), req.send("measure", body)
        a, b = req.reply(first), req.reply(second)
        assert a["ok"] and not b["ok"] and b["error"].startswith("device busy: command 'measure' running")
        # a measurement started by another trigger (the button) is the runtime's refusal
        started = threading.Event()
        rt.subscribe(lambda snap: started.set() if snap["state"] == "measuring" else None)
        t = threading.Thread(target=lambda: rt.measure({"sample_id": "BTN"}, trigger="button"))
        t.start()
        assert started.wait(10)
        c = req.call("measure", body["args"])
        t.join(30)
        assert not c["ok"] and c["error"].startswith("device busy: measuring (started by button")
        assert link.counters().get("commands_busy") == 1
    finally:
        req.close()
        stop_all(link, rt)


def test_command_without_response_topic_is_answered_on_the_reply_topic(unit):
    rt, link, req = unit
    replies = subscribe(req.client, f"plastinir/{rt.identity.unit}/cmd/reload/reply")
    req.client.publish(f"plastinir/{rt.identity.unit}/cmd/reload", json.dumps({"schema": "plastinir.cmd/1"}),
                       qos=1).wait_for_publish(5)
    assert replies.wait_for(lambda msgs: len(msgs) >= 1, 10)   # (once per matching subscription)
    assert json.loads(replies.messages[0].payload)["ok"] is True
    assert replies.messages[0].properties is None or not hasattr(replies.messages[0].properties, "CorrelationData")
    assert mqtt.topic_matches_sub("plastinir/+/cmd/+/reply/#", replies.messages[0].topic)  # the ACL's pattern
