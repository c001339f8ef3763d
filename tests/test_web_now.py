"""The Now page and its JSON twins, and measuring from the page (test client, real runtime)."""
import re

from firmware.state import State
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import PET, PLA, WL, add_record, csrf_of, login, white


def tags(token, **extra):
    data = {"csrf_token": token, "sample_id": "S-17", "merchant": "Shop A", "location": "Utrecht",
            "batch": "B7", "product": "carrier bag", "claimed_material": "PLA"}
    data.update(extra)
    return data


def test_now_without_result_shows_state_and_reason(client):
    html = client.get("/").get_data(as_text=True)
    assert "Needs a white reference" in html
    assert "white reference needed: none taken yet for the fpi head" in html
    assert "No result yet" in html
    # Not logged in: no trigger form, a way to log in instead; JS is an enhancement only.
    assert 'action="/measure"' not in html and "log in" in html
    assert '<script src="/static/live.js" defer></script>' in html


def test_measure_from_page_identifies_pet_with_plot_band_and_claim(rig, client):
    white(rig)
    rig.head.put(PET)
    login(client)
    token = csrf_of(client, "/")
    r = client.post("/measure", data=tags(token))
    assert r.status_code == 303 and r.headers["Location"].endswith("/#verdict")
    record = rig.journal.latest()
    assert record["seq"] == 1 and record["class"] == "PET"
    assert record["sample"] == {"sample_id": "S-17", "merchant": "Shop A", "location": "Utrecht", "batch": "B7",
                                "product": "carrier bag", "claimed_material": "PLA"}
    html = client.get("/").get_data(as_text=True)
    assert "Result #1 stored: PET" in html                     # the flash after the redirect
    assert re.search(r'id="verdict-headline">\s*<span class="sr">Identified: </span>PET', html)
    assert "polyethylene terephthalate" in html and "NOT BIODEGRADABLE" in html
    # The claim on the label (PLA, biodegradable) does not match: said in words, with a symbol.
    assert "Claim does not match: claimed PLA (biodegradable), measured PET (not biodegradable)." in html
    # Server-side SVG: the trace has one point per wavelength, the PET band is drawn.
    svg = re.search(r'<svg class="spectrum".*?</svg>', html, re.S).group(0)
    trace = re.search(r'<polyline class="trace" points="([^"]+)"', svg).group(1)
    assert len(trace.split()) == WL.size
    assert '<path class="band"' in svg and "PET reference (mean ± 1 sd)" in svg
    # T² and Q against their limits (NearestMeanModel: limits t2 10, q 0.01).
    assert re.search(r"<strong>T² = 1</strong>\s*\(limit 10\):\s*<strong><span aria-hidden=\"true\">✓</span> within the limit", html)
    # Tags carried over for the next item of the same shop; product and sample id cleared.
    assert 'value="Shop A"' in html and 'value="Utrecht"' in html and 'value="S-17"' not in html


def test_measure_without_reference_is_refused_with_the_reason_and_keeps_the_tags(rig, client):
    login(client)
    token = csrf_of(client, "/")
    r = client.post("/measure", data=tags(token))
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert "Refused:" in html and "white reference needed: none taken yet for the fpi head" in html
    assert 'value="carrier bag"' in html  # nothing to type again
    assert rig.journal.last_seq() == 0


def test_measure_while_busy_is_refused(rig, client):
    white(rig)
    login(client)
    token = csrf_of(client, "/")
    rig.state.begin(State.MEASURING, "button")  # a measurement from the button is running
    r = client.post("/measure", data=tags(token))
    assert r.status_code == 409 and "device busy: measuring (started by button" in r.get_data(as_text=True)


def test_measure_bad_form_input_is_400_naming_the_field(rig, client):
    white(rig)
    login(client)
    token = csrf_of(client, "/")
    r = client.post("/measure", data=tags(token, merchant="x" * 201))
    assert r.status_code == 400 and "Merchant is 201 characters long; at most 200" in r.get_data(as_text=True)
    r = client.post("/measure", data=tags(token, colour="black"))
    assert r.status_code == 400 and "unknown field &#39;colour&#39;" in r.get_data(as_text=True)
    r = client.post("/measure", data=tags(token, batch="a\x07b"))
    assert r.status_code == 400 and "Batch contains control characters" in r.get_data(as_text=True)
    assert rig.journal.last_seq() == 0


def test_measure_needs_login_and_csrf(rig, client):
    white(rig)
    r = client.post("/measure", data=tags("whatever"))
    assert r.status_code == 401 and "log in first" in r.get_data(as_text=True)
    login(client)
    r = client.post("/measure", data={k: v for k, v in tags("x").items() if k != "csrf_token"})
    assert r.status_code == 400 and "CSRF token missing" in r.get_data(as_text=True)
    r = client.post("/measure", data=tags("not-the-token"))
    assert r.status_code == 400 and "CSRF token does not match this session" in r.get_data(as_text=True)
    assert rig.journal.last_seq() == 0


def test_dark_sample_rejected_in_plain_words(rig, client):
    white(rig)
    rig.head.put(0.03)  # black plastic: a few percent reflectance
    login(client)
    client.post("/measure", data=tags(csrf_of(client, "/")))
    html = client.get("/").get_data(as_text=True)
    assert "Too dark to identify" in html and "Send the item to the lab" in html
    assert "dark: cannot identify black/dark samples by NIR" in html  # the technical reason, in a <details>
    assert "BIODEGRADABLE" not in html


def test_unknown_and_ambiguous_in_plain_words(rig, client):
    add_record(rig, verdict="unknown", reason="outside every class (Q 0.2 above its limit 0.05)", **{"class": None},
               degradable=None, confidence=None, q=0.2)
    html = client.get("/").get_data(as_text=True)
    assert "Not recognised" in html and "does not look like any plastic the model knows" in html
    assert re.search(r"<strong>Q = 0.2</strong>\s*\(limit 0.05\):\s*<strong><span aria-hidden=\"true\">✗</span> over the limit", html)
    add_record(rig, verdict="ambiguous", reason="PLA and PBAT both accept", **{"class": None}, degradable=None,
               scores={"PLA": 0.55, "PBAT": 0.45})
    html = client.get("/").get_data(as_text=True)
    assert "Unclear" in html and "(PLA, PBAT)" in html
    assert "PLA reference (mean ± 1 sd)" in html  # the best candidate's band


def test_composition_with_uncertainty(rig, client):
    white(rig)
    rig.head.put(PLA)
    login(client)
    client.post("/measure", data=tags(csrf_of(client, "/"), claimed_material="compostable"))
    html = client.get("/").get_data(as_text=True)
    assert "BIODEGRADABLE" in html and "NOT BIODEGRADABLE" not in html
    assert "Consistent with the claim" in html
    assert re.search(r"PLA</span> <strong>98\.0 ± 1\.5</strong> wt%", html)  # pla_wt_pct, readable


def test_api_now_and_state(rig, client):
    body = client.get("/api/now").get_json()
    assert body["state"]["state"] == "needs_reference" and body["result"] is None
    white(rig)
    rig.head.put(PET)
    rig.measurement.measure({"sample_id": "S-2"}, trigger="button")
    body = client.get("/api/now").get_json()
    assert body["result"]["seq"] == 1 and body["result"]["signature"]
    assert body["explanation"]["headline"] == "PET" and body["explanation"]["degradable"] is False
    assert body["band"]["class"] == "PET" and len(body["band"]["mean"]) == len(body["band"]["wavelengths_nm"])
    assert [r["key"] for r in body["limits"]] == ["t2", "q"]
    state = client.get("/api/state").get_json()
    assert state["state"] == "result" and state["last_seq"] == 1 and state["version"] == body["version"]


def test_panel_fragment_is_the_live_part_only(rig, client):
    add_record(rig)
    html = client.get("/now/panel").get_data(as_text=True)
    assert "HDPE" in html and "<html" not in html and 'action="/measure"' not in html
