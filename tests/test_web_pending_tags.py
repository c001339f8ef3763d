"""Tags for the next button press from the Now page (test client, the rig's real runtime pieces):
the form's second action, what /api/now and the page show, exactly one button-triggered result
using them, expiry, clear, bad input, login and CSRF like "Measure now".

The button press here is the call the acquisition loop makes on a press
(``measure({}, trigger="button")``); the physical path (simulated board, its button, the loop)
is in test_pending_tags_button.py.
"""
import re

import pytest

from firmware.errors import DeviceBusy, HardwareError, NotReady
from firmware.state import State
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import PET, csrf_of, login, white

TAGS = {"sample_id": "S-17", "merchant": "Shop A", "location": "Utrecht", "batch": "B7", "product": "carrier bag",
        "claimed_material": "PLA"}


class Clock:
    """Wall-clock seconds the test moves by hand (the tags' expiry is wall-clock time)."""

    def __init__(self, t: float = 1_780_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def press(rig) -> dict:
    """What `firmware.loop.AcquisitionLoop` does when the trigger button is pressed."""
    return rig.measurement.measure({}, trigger="button")


def tag_next(client, **changes):
    data = {"csrf_token": csrf_of(client, "/"), **TAGS, **changes}
    return client.post("/tags", data=data)


def test_tagged_press_then_untagged_press(rig, client):
    white(rig)
    rig.head.put(PET)
    login(client)
    html = client.get("/").get_data(as_text=True)
    assert 'formaction="/tags"' in html and "Tag the next" in html  # the second action, plain HTML
    r = tag_next(client)
    assert r.status_code == 303 and r.headers["Location"].endswith("/#pending-tags")
    html = client.get("/").get_data(as_text=True)
    assert "The next button press will be tagged: Sample ID S-17, Merchant Shop A" in html   # the flash
    assert "Next button press will be tagged:" in html and "<dd>carrier bag</dd>" in html
    assert re.search(r"Expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+\(in 10 min\)", html)  # default TTL 600 s
    assert 'value="S-17"' in html                       # the form stays filled while the tags wait
    pending = client.get("/api/now").get_json()["pending_tags"]
    assert pending["tags"] == TAGS and pending["source"] == "page" and pending["expired"] is False
    assert pending["ttl_s"] == 600.0 and 599 <= pending["expires_in_s"] <= 600

    first = press(rig)
    assert first["sample"] == TAGS and rig.journal.get(first["seq"])["sample"] == TAGS
    assert client.get("/api/now").get_json()["pending_tags"] is None
    html = client.get("/").get_data(as_text=True)
    assert "Next button press will be tagged" not in html
    # used up: the form keeps the shop's tags only, so the item's id does not stick to the next item
    assert 'value="Shop A"' in html and 'value="S-17"' not in html and 'value="carrier bag"' not in html

    second = press(rig)
    assert second["seq"] == first["seq"] + 1 and not any(second["sample"].values())


def test_other_triggers_leave_the_waiting_tags_alone(rig, client):
    white(rig)
    rig.head.put(PET)
    login(client)
    tag_next(client)
    waiting = rig.adapter.pending_tags()["id"]
    client.post("/measure", data={"csrf_token": csrf_of(client, "/"), "sample_id": "PAGE-1"})   # "Measure now"
    assert rig.journal.latest()["sample"]["sample_id"] == "PAGE-1"
    assert rig.measurement.measure({}, trigger="cli")["sample"]["sample_id"] is None
    assert rig.measurement.measure({"sample_id": "OWN"}, trigger="button")["sample"]["sample_id"] == "OWN"
    assert rig.adapter.pending_tags()["id"] == waiting and rig.journal.last_seq() == 3


def test_a_press_that_stores_nothing_keeps_the_tags(rig, client):
    login(client)
    tag_next(client)
    rig.head.put(PET)
    with pytest.raises(NotReady, match="white reference needed"):
        press(rig)                                          # refused: no white reference yet
    white(rig)
    rig.state.begin(State.MEASURING, "page")                # refused: another trigger is measuring
    with pytest.raises(DeviceBusy):
        press(rig)
    rig.state.transition(State.FAULT, "fault: test")
    rig.measurement.self_test((), trigger="test")
    rig.head.fail_with = HardwareError("DRDY timeout (simulated)")
    with pytest.raises(HardwareError):                      # stopped by a hardware fault
        press(rig)
    assert rig.state.state is State.FAULT
    assert rig.journal.last_seq() == 0 and rig.adapter.pending_tags()["tags"] == TAGS
    rig.head.fail_with = None
    rig.measurement.self_test((), trigger="test")
    assert press(rig)["sample"] == TAGS


def test_a_quality_rejection_uses_the_tags_and_offers_them_again(rig, client):
    white(rig)
    login(client)
    tag_next(client)
    rig.head.put(0.03)                                      # black plastic: rejected, dark
    record = press(rig)
    assert record["verdict"] == "rejected" and record["reason"].startswith("dark") and record["sample"] == TAGS
    assert rig.adapter.pending_tags() is None
    html = client.get("/").get_data(as_text=True)
    retag = re.search(r'<form[^>]*id="retag".*?</form>', html, re.S).group(0)
    assert 'name="sample_id" value="S-17"' in retag and "Measure this item again" in retag
    token = re.search(r'name="csrf_token" value="([^"]+)"', retag).group(1)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', retag))
    assert client.post("/tags", data={**fields, "csrf_token": token}).status_code == 303
    rig.head.put(PET)
    assert press(rig)["sample"] == TAGS
    assert 'id="retag"' not in client.get("/").get_data(as_text=True)   # identified: nothing to offer


def test_tags_expire_and_the_page_says_so(rig, client):
    clock = Clock()
    rig.measurement.pending.clock = clock
    white(rig)
    rig.head.put(PET)
    login(client)
    tag_next(client)
    clock.t += 599
    assert client.get("/api/now").get_json()["pending_tags"]["expires_in_s"] == 1.0
    clock.t += 1                                           # TTL reached
    pending = client.get("/api/now").get_json()["pending_tags"]
    assert pending["expired"] is True and pending["expires_in_s"] == 0.0
    html = client.get("/").get_data(as_text=True)
    assert "Tags for the button expired" in html and "will <strong>not</strong> be tagged" in html
    record = press(rig)
    assert not any(record["sample"].values())              # an old shop's tags never land on this item
    assert client.get("/api/now").get_json()["pending_tags"]["expired"] is True   # still shown until cleared
    # a clock stepped back by more than a minute: the tags' age is unknown, they do not apply
    tag_next(client)
    clock.t -= 61
    assert client.get("/api/now").get_json()["pending_tags"]["expired"] is True
    assert not any(press(rig)["sample"].values())


def test_ttl_comes_from_config(rig, client):
    rig.measurement.config = rig.config.model_copy(
        update={"runtime": rig.config.runtime.model_copy(update={"pending_tags_ttl_s": 30.0})})
    login(client)
    tag_next(client)
    assert client.get("/api/now").get_json()["pending_tags"]["ttl_s"] == 30.0


def test_clear_and_replace(rig, client):
    white(rig)
    rig.head.put(PET)
    login(client)
    tag_next(client)
    tag_next(client, sample_id="S-18", product="")          # a corrected set replaces the waiting one
    replaced = rig.adapter.pending_tags()
    assert replaced["tags"] == {k: v for k, v in TAGS.items() if k != "product"} | {"sample_id": "S-18"}
    assert replaced["sample"]["product"] is None
    r = client.post("/tags/clear", data={"csrf_token": csrf_of(client, "/")})
    assert r.status_code == 303
    html = client.get("/").get_data(as_text=True)
    assert "Tags for the next button press cleared" in html and "Next button press will be tagged" not in html
    assert client.get("/api/now").get_json()["pending_tags"] is None
    assert not any(press(rig)["sample"].values())
    client.post("/tags/clear", data={"csrf_token": csrf_of(client, "/")})
    assert "No tags were waiting for the button." in client.get("/").get_data(as_text=True)


def test_bad_form_input_is_400_and_nothing_waits(rig, client):
    login(client)
    r = tag_next(client, merchant="x" * 201)
    assert r.status_code == 400 and "Merchant is 201 characters long; at most 200" in r.get_data(as_text=True)
    assert 'value="carrier bag"' in r.get_data(as_text=True)   # the form keeps what was typed
    r = tag_next(client, colour="black")
    assert r.status_code == 400 and "unknown field &#39;colour&#39;" in r.get_data(as_text=True)
    r = tag_next(client, batch="B\x07")
    assert r.status_code == 400 and "Batch contains control characters" in r.get_data(as_text=True)
    r = client.post("/tags", data={"csrf_token": csrf_of(client, "/"), **{k: " " for k in TAGS}})
    assert r.status_code == 400 and "no tags given" in r.get_data(as_text=True)
    assert rig.adapter.pending_tags() is None


def test_login_and_csrf_like_measure_now(rig, client):
    assert 'formaction="/tags"' not in client.get("/").get_data(as_text=True)   # the form is behind login
    token = csrf_of(client, "/login")
    assert client.post("/tags", data={"csrf_token": token, **TAGS}).status_code == 401
    assert client.post("/tags/clear", data={"csrf_token": token}).status_code == 401
    assert rig.adapter.pending_tags() is None
    login(client)
    r = client.post("/tags", data=TAGS)
    assert r.status_code == 400 and "CSRF token missing" in r.get_data(as_text=True)
    r = client.post("/tags", data={"csrf_token": "forged", **TAGS})
    assert r.status_code == 400 and "CSRF token does not match" in r.get_data(as_text=True)
    assert rig.adapter.pending_tags() is None
    tag_next(client)
    assert client.post("/tags/clear", data={}).status_code == 400
    assert rig.adapter.pending_tags() is not None
    # anonymous readers see what the button will record, but get no clear button
    anonymous = client.application.test_client()
    html = anonymous.get("/").get_data(as_text=True)
    assert "Next button press will be tagged:" in html and 'id="clear-tags"' not in html


def test_ttl_out_of_range_is_a_config_error_naming_the_key():
    from firmware.config import load_config
    from firmware.errors import ConfigError
    with pytest.raises(ConfigError, match="pending_tags_ttl_s"):
        load_config(None, {"runtime": {"pending_tags_ttl_s": 5}})
