"""What the unit says about itself (docs/MQTT.md): retained status and birth, calibration, stats,
events marked published only after PUBACK, and the alarm when results are not reaching the bureau.
Payloads are checked with the bureau's own parsers (host/bureau/payloads.py), the other half of
the contract."""
from __future__ import annotations

import json
import time

from firmware.mqtt import MqttLink
from host.bureau.payloads import Birth, Event, Stats
from link_support import append_results, connected, stop_all, unit_with_link
from support.mqtt import close, connect, subscribe, wait_until


def test_status_birth_stats_and_events(tmp_path, broker):
    rt, link = unit_with_link(tmp_path / "unit", broker.url, stats_interval_s=0.3, start_link=False)
    unit = rt.identity.unit
    watcher = connect(broker.url)
    try:
        got = subscribe(watcher, f"plastinir/{unit}/#")
        rt.journal.add_event("reference", "info", "white-taken", "white reference taken", {"age_s": 0})
        link = MqttLink(rt).start()
        assert connected(link)

        def on(leaf):
            return [m for m in got.messages if m.topic == f"plastinir/{unit}/{leaf}"]
        assert got.wait_for(lambda _: len(on("stats")) >= 2 and on("birth") and on("status"), 10)
        assert on("status")[0].payload == b"online" and on("status")[0].retain is False  # live, retained on the broker
        birth = json.loads(on("birth")[0].payload)
        Birth.model_validate(birth)
        assert birth["unit"] == unit and birth["public_key"] == rt.identity.public_key
        assert birth["model"] == {k: rt.model_info()[k] for k in ("name", "version", "sha256")}
        assert birth["boot_id"] == rt.boot_info.boot_id and birth["head"] == "fpi" and birth["firmware"]
        stats = json.loads(on("stats")[-1].payload)
        Stats.model_validate(stats)
        assert stats["state"] == "ready" and stats["last_seq"] == 0 and stats["outbox_depth"] == 0
        assert stats["reference_age_s"] is not None and stats["disk_free_bytes"] > 0
        assert on("stats")[0].qos == 0
        # journaled events: out on event/<kind>, marked published after PUBACK (the one before the link too)
        assert got.wait_for(lambda _: len(on("event/reference")) >= 2, 10)   # white reference + the added one
        event = json.loads(on("event/reference")[-1].payload)
        Event.model_validate(event)
        assert event["code"] == "white-taken" and event["unit"] == unit
        assert wait_until(lambda: not rt.journal.events(50, unpublished=True), 5)
        # a late subscriber sees the retained status and birth
        late = connect(broker.url)
        retained = subscribe(late, f"plastinir/{unit}/+")
        assert retained.wait_for(lambda msgs: {m.topic.rsplit("/", 1)[1] for m in msgs if m.retain} >= {"status", "birth"}, 5)
        close(late)
        link.stop()
        assert got.wait_for(lambda _: on("status")[-1].payload == b"stopped", 5)
        assert rt.link_status()["state"] == "stopped"
    finally:
        close(watcher)
        stop_all(None, rt)


def test_calibration_is_retained_and_birth_follows_it(tmp_path, broker):
    rt, link = unit_with_link(tmp_path / "unit", broker.url, start_link=False)
    unit = rt.identity.unit
    certificate = {"schema": "plastinir.calibration/1", "calibration_id": "CAL-2026-001", "unit": unit,
                   "due": "2027-05-27", "passed": True}
    current = {"cert": None}
    rt.calibration = lambda: current["cert"]
    watcher = connect(broker.url)
    link = MqttLink(rt).start()
    try:
        got = subscribe(watcher, f"plastinir/{unit}/+")
        assert connected(link)
        assert got.wait_for(lambda msgs: any(m.topic.endswith("/birth") for m in msgs), 5)
        assert not any(m.topic.endswith("/calibration") for m in got.messages)      # None → nothing
        current["cert"] = certificate                                               # issue 7 stores one
        assert got.wait_for(lambda msgs: any(m.topic.endswith("/calibration") for m in msgs), 5)
        cal = [m for m in got.messages if m.topic.endswith("/calibration")]
        assert json.loads(cal[0].payload) == certificate
        births = lambda: [json.loads(m.payload) for m in got.messages if m.topic.endswith("/birth")]  # noqa: E731
        assert wait_until(lambda: births()[-1]["calibration_id"] == "CAL-2026-001", 5)   # birth says it too
        late = connect(broker.url)
        kept = subscribe(late, f"plastinir/{unit}/calibration")
        assert kept.wait_for(lambda msgs: msgs and msgs[0].retain, 5)
        close(late)
        n = len([m for m in got.messages if m.topic.endswith("/calibration")])
        time.sleep(1.2)                                   # unchanged: checked every second, not re-published
        assert len([m for m in got.messages if m.topic.endswith("/calibration")]) == n
    finally:
        close(watcher)
        stop_all(link, rt)


def test_alarm_when_the_oldest_unacknowledged_result_gets_old(tmp_path, monkeypatch):
    # no broker at all: the alarm is about results not reaching the bureau, whatever the reason
    monkeypatch.setattr("firmware.mqtt.health.CHECK_INTERVAL_S", 0.1)
    rt, link = unit_with_link(tmp_path / "unit", "mqtt://127.0.0.1:9", alarm_after_s=0.3)
    try:
        append_results(rt, 2)
        assert wait_until(lambda: any(e["code"] == "outbox-stale" for e in rt.journal.events(20, kind="link")), 5)
        alarm = next(e for e in rt.journal.events(20, kind="link") if e["code"] == "outbox-stale")
        assert alarm["severity"] == "warning" and alarm["detail"]["outbox_depth"] == 2
        assert wait_until(lambda: any(e["severity"] == "error" for e in rt.journal.events(20, kind="link")), 5)
        rt.journal.acknowledge([1, 2])                                  # (as if the bureau had stored them)
        assert wait_until(lambda: any(e["code"] == "outbox-ok" for e in rt.journal.events(20, kind="link")), 5)
        assert rt.link_status()["state"] in ("connecting", "disconnected")
    finally:
        stop_all(link, rt)
