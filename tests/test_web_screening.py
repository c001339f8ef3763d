"""A screening head's verdicts say so: the manifest's ``screening: true`` on the status page."""
import re

from firmware.model_slot import ActiveModel
from firmware.web.explain import SCREENING_NOTE, explain
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import PLA, WL, PackagedModel, _manifest, add_record, csrf_of, login, white

SHA = "e" * 64


def _screening_model(rig, screening=True):
    """Put a model whose manifest says ``screening`` in service (as the led8 package does)."""
    manifest = _manifest("led8-test", "1") | {"screening": screening}
    rig.slot.swap(ActiveModel(PackagedModel(manifest), "led8-test", "1", SHA, "fpi", WL))


def test_explain_adds_the_screening_note_to_model_verdicts_only():
    pla = {"verdict": "identified", "class": "PLA", "degradable": True, "confidence": 0.6}
    plain = explain(pla)
    assert plain["screening"] is False and plain["screening_note"] is None
    assert plain["advice"] == "Biodegradable plastic."
    ex = explain(pla, screening=True)
    assert ex["screening"] is True and ex["screening_note"] == SCREENING_NOTE
    assert ex["degradable"] is True and "do not clear the product" in ex["advice"]
    unknown = explain({"verdict": "unknown", "reason": "not sure enough for PLA (score 0.45 < 0.509 required)"},
                      screening=True)
    assert unknown["screening"] is True and "lab test" in unknown["advice"]
    # a rejection happens before any model: a screening note would say nothing about it
    dark = explain({"verdict": "rejected", "reason": "dark: median reflectance 0.03"}, screening=True)
    assert dark["screening"] is False and dark["headline"] == "Too dark to identify"


def test_now_page_says_screening_for_a_result_of_the_screening_model(rig, client):
    _screening_model(rig)
    white(rig)
    rig.head.put(PLA)
    login(client)
    client.post("/measure", data={"csrf_token": csrf_of(client, "/"), "claimed_material": "PLA"})
    assert rig.journal.latest()["model"]["sha256"] == SHA
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'id="screening"><strong>Screening only: this model is a screening head', html)
    assert "do not clear the product on this result" in html and "BIODEGRADABLE" in html
    assert client.get("/api/now").get_json()["explanation"]["screening"] is True
    assert 'id="d-screening">screening head<' in client.get("/device").get_data(as_text=True)
    # a record made by another model (replaced since) is not flagged: the record does not say
    other = add_record(rig)  # conftest.unsigned_record: HDPE, model sha256 "a" * 64
    assert other["model"]["sha256"] != SHA
    html = client.get("/").get_data(as_text=True)
    assert 'id="screening"' not in html and "Conventional plastic: not biodegradable." in html
    assert 'id="screening"' not in client.get(f"/history/{other['seq']}").get_data(as_text=True)
    assert 'id="screening"' in client.get("/history/1").get_data(as_text=True)


def test_no_screening_note_for_a_full_identification_model(rig, client):
    _screening_model(rig, screening=False)
    white(rig)
    rig.head.put(PLA)
    login(client)
    client.post("/measure", data={"csrf_token": csrf_of(client, "/")})
    html = client.get("/").get_data(as_text=True)
    assert 'id="screening"' not in html and "Biodegradable plastic." in html
    assert 'id="d-screening"' not in client.get("/device").get_data(as_text=True)
