"""Device page, /metrics, the read-only journal viewer, and the runtime adapter's honesty."""
import re
import sqlite3

import pytest

from device_support import LED8_PACKAGE, make_runtime, place, white_reference
from firmware.config import load_config
from firmware.mqtt import payloads
from firmware.services import page_port
from firmware.web import create_app
from firmware.web.runtime_adapter import RuntimeAdapter, certificate_summary
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import PET, add_record, csrf_of, login, white

REJECTED = dict(verdict="rejected", degradable=None, confidence=None, scores={}, t2=None, q=None, limits=None,
                **{"class": None})


def test_device_page_shows_every_figure(rig, client):
    white(rig)
    html = client.get("/device").get_data(as_text=True)
    assert re.search(rf'id="d-unit">{rig.identity.unit}<', html)
    assert 'id="d-firmware">0.1.0<' in html and "fpi-test 1" in html
    assert "cal-2026-001, due 2099-05-27" in html
    assert re.search(r'id="d-white">\d+ s old, at 25 °C \(expires after 8\.0 h\)', html)
    assert 'id="d-temperature">25.0 °C<' in html
    # the rig's scripted head has no light to count and no counter is given: said, not invented
    # (a real runtime's counter: test_device_page_shows_the_runtimes_lamp_hours)
    assert 'id="d-lamp">not available<' in html
    assert "connected — mqtt://127.0.0.1:1883" in html and "2026-11-27 08:31:09 UTC" in html
    assert 'id="d-clock">yes<' in html and "0 results" in html
    body = client.get("/api/device").get_json()
    assert body["device"]["unit"] == rig.identity.unit and body["device"]["lamp_hours"] is None
    assert body["device"]["outbox"]["depth"] == 0 and body["state"]["state"] == "ready"
    assert body["device"]["disk"]["free_bytes"] > 0


def test_overdue_certificate_and_failing_providers_show_not_available(rig, client):
    assert certificate_summary({"id": "c1", "valid_until": "2020-01-01"})["overdue"] is True
    rig.adapter._calibration = lambda: {"calibration_id": "cal-old", "due": "2020-01-01"}
    rig.adapter._link = lambda: 1 / 0  # a broken provider must not take the page down
    html = client.get("/device").get_data(as_text=True)
    assert "cal-old, due 2020-01-01 <strong>— overdue</strong>" in html
    assert 'id="d-link">not available<' in html and 'id="d-puback">not available<' in html


def test_metrics_prometheus_text(rig, client):
    white(rig)
    add_record(rig, timings_ms={"inference": 2.0, "total": 1500.0})
    add_record(rig, reason="dark: cannot identify black/dark samples by NIR", **REJECTED)
    add_record(rig, reason="empty: no sample on the port", **REJECTED)
    rig.head.put(PET)
    rig.measurement.measure({}, trigger="button")
    r = client.get("/metrics")
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = r.get_data(as_text=True)
    lines = set(text.splitlines())
    # The app was created before these results: they are all counted, whatever their trigger.
    assert 'plastinir_results_total{verdict="identified"} 2' in lines
    assert 'plastinir_rejections_total{reason="dark"} 1' in lines
    assert 'plastinir_rejections_total{reason="empty"} 1' in lines
    # unsigned_record carries timings_ms.inference = 0.2 unless replaced: every record has one here.
    assert "plastinir_inference_seconds_count 4" in lines
    assert "plastinir_journal_last_seq 4" in lines and "plastinir_outbox_depth 4" in lines
    assert 'plastinir_state{state="result"} 1' in lines and 'plastinir_state{state="ready"} 0' in lines
    assert "plastinir_link_up 1" in lines and "plastinir_clock_synced 1" in lines
    assert "plastinir_lamp_hours" not in text  # no counter given: no series rather than a made-up 0
    assert 'plastinir_reference_age_seconds{kind="white"}' in text
    assert f'unit="{rig.identity.unit}"' in text
    # Every sample line belongs to a family declared with HELP and TYPE.
    families = {line.split()[2] for line in lines if line.startswith("# TYPE")}
    for line in lines:
        if line and not line.startswith("#"):
            name = re.match(r"[a-z_]+", line).group(0)
            assert name in families or re.sub(r"_(sum|count)$", "", name) in families, line
    # Counters only grow: a second scrape after acknowledging and purging still counts them.
    rig.journal.acknowledge([1, 2, 3, 4])
    rig.journal.apply_retention(max_results=100, max_age_s=0.0, now=4e9)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'plastinir_results_total{verdict="identified"} 2' in text and "plastinir_outbox_depth 0" in text


def test_metrics_label_values_escaped(rig, client):
    add_record(rig, reason='odd "code"\\x: detail', **REJECTED)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'plastinir_rejections_total{reason="odd \\"code\\"\\\\x"} 1' in text


def test_read_only_viewer_of_a_state_dir(rig):
    add_record(rig)
    app = create_app(load_config(None), state_dir=rig.state_dir, flask_config={"TESTING": True})
    (rig.state_dir / "web_password_hash").write_text(__import__("werkzeug.security").security.generate_password_hash(
        "viewer password", method="pbkdf2:sha256:1000"))
    client = app.test_client()
    html = client.get("/").get_data(as_text=True)
    assert "Not running" in html and "HDPE" in html
    assert rig.identity.unit in client.get("/device").get_data(as_text=True)
    login(client, "viewer password")
    r = client.post("/measure", data={"csrf_token": csrf_of(client, "/")})
    assert r.status_code == 409 and "measuring is not available in this process" in r.get_data(as_text=True)
    token = csrf_of(client, "/technician")
    r = client.post("/technician/reference", data={"csrf_token": token, "kind": "white"})
    assert r.status_code == 409 and "not available in this process" in r.get_data(as_text=True)


def test_adapter_reference_band_is_checked(rig):
    band = rig.adapter.reference_band("pet")  # labels compare case-insensitively
    assert band is not None and len(band["mean"]) == len(band["sd"]) == len(band["wavelengths_nm"])
    assert rig.adapter.reference_band("HDPE") is None
    manifest = rig.slot.current().model.package.manifest
    manifest["reference_spectra"]["PLA"]["sd"] = manifest["reference_spectra"]["PLA"]["sd"][:-1]
    assert rig.adapter.reference_band("PLA") is None  # malformed: no band rather than a wrong one


def test_adapter_needs_a_journal():
    with pytest.raises(ValueError, match="needs a journal"):
        RuntimeAdapter()


def _runtime_client(rt):
    return create_app(rt.config, runtime=page_port(rt), state_dir=rt.state_dir,
                      flask_config={"TESTING": True}).test_client()


def test_device_page_shows_the_runtimes_lamp_hours(tmp_path):
    """The wiring of `nir-device run`: page, /api/device, /metrics and MQTT stats read
    `DeviceRuntime.lamp_hours` (the journal's counter plus the reading in progress)."""
    with make_runtime(tmp_path, {"head": {"fpi": {"light_service_hours": 2000}}}) as rt:
        white_reference(rt)
        place(rt, "PET")
        rt.measure({})
        client = _runtime_client(rt)
        hours = rt.lamp_hours()
        assert 0 < hours < 0.01  # a self-test, a white reference and a measurement: ~7 s of lamp
        html = client.get("/device").get_data(as_text=True)
        assert f'id="d-lamp">{hours:.2f} h (service life 2000 h)<' in html and "<dt>Lamp hours</dt>" in html
        assert client.get("/api/device").get_json()["device"]["lamp_hours"] == pytest.approx(hours, abs=1e-9)
        text = client.get("/metrics").get_data(as_text=True)
        (line,) = [ln for ln in text.splitlines() if ln.startswith("plastinir_lamp_hours ")]
        assert float(line.split()[1]) == pytest.approx(hours, abs=1e-9)
        assert payloads.stats(rt)["lamp_hours"] == pytest.approx(hours, abs=1e-9)
        # a replaced lamp's hours set by the technician past its service life: the page says so
        rt.journal.set_lamp_seconds("fpi", 2001 * 3600.0, ("maintenance", "info", "lamp-reset", "test", {}))
        html = client.get("/device").get_data(as_text=True)
        assert re.search(r'id="d-lamp">2001\.00 h <strong>— replacement due</strong> \(service life 2000 h\)<', html)


def test_corrupt_lamp_counter_shows_not_available_everywhere(tmp_path):
    with make_runtime(tmp_path, start=False) as rt:
        with sqlite3.connect(tmp_path / "journal.db") as con:
            con.execute("PRAGMA ignore_check_constraints = ON")  # a hand edit or a damaged page
            con.execute("UPDATE lamp_hours SET seconds = 'x' WHERE head = 'fpi'")
        client = _runtime_client(rt)
        assert 'id="d-lamp">not available<' in client.get("/device").get_data(as_text=True)
        assert client.get("/api/device").get_json()["device"]["lamp_hours"] is None
        assert "plastinir_lamp_hours" not in client.get("/metrics").get_data(as_text=True)
        assert payloads.stats(rt)["lamp_hours"] is None


def test_led8_page_says_led_hours(tmp_path):
    with make_runtime(tmp_path, {"head": {"name": "led8"}, "model": {"package": str(LED8_PACKAGE)}}) as rt:
        html = _runtime_client(rt).get("/device").get_data(as_text=True)
        assert "<dt>LED hours</dt>" in html and f'id="d-lamp">{rt.lamp_hours():.2f} h<' in html
