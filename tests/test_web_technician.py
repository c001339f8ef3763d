"""Technician pages: references, self-test, model upload (real signed packages), certificate."""
import io
import re

from firmware.signing import generate_key
from firmware.state import State
from firmware.model_store import ModelStore
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import PET, csrf_of, login, make_app, make_package
from runtime_fakes import drdy_timeout


def logged_in_token(client):
    login(client)
    return csrf_of(client, "/technician")


def test_white_reference_then_ready(rig, client):
    token = logged_in_token(client)
    rig.head.put(0.99)
    r = client.post("/technician/reference", data={"csrf_token": token, "kind": "white"})
    assert r.status_code == 303
    html = client.get("/technician").get_data(as_text=True)
    assert "White reference taken at 25.0 °C" in html and "Ready to measure" in html
    assert rig.state.state is State.READY


def test_white_reference_without_tile_refused_with_cause(rig, client):
    token = logged_in_token(client)
    rig.head.put(0.0)  # nothing on the port: no light comes back
    r = client.post("/technician/reference", data={"csrf_token": token, "kind": "white"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Reading refused:" in html and "is the white tile on the port and the light source working?" in html
    assert rig.journal.latest_reference("white") is None


def test_dark_reference_and_bad_kind(rig, client):
    token = logged_in_token(client)
    rig.head.put(0.99)
    client.post("/technician/reference", data={"csrf_token": token, "kind": "white"})
    rig.head.put(0.0)
    r = client.post("/technician/reference", data={"csrf_token": token, "kind": "dark"})
    assert r.status_code == 303 and rig.journal.latest_reference("dark") is not None
    r = client.post("/technician/reference", data={"csrf_token": token, "kind": "grey"})
    assert r.status_code == 400 and "reference kind &#39;grey&#39; is not one of white, dark" in r.get_data(as_text=True)
    r = client.post("/technician/reference", data={"kind": "white"})
    assert r.status_code == 400  # CSRF


def test_self_test_passes_and_failure_shows_the_fault(rig, client):
    token = logged_in_token(client)
    r = client.post("/technician/selftest", data={"csrf_token": token})
    assert r.status_code == 303
    assert "Self-test passed: temperature_c 25" in client.get("/technician").get_data(as_text=True)
    rig.head.fail_with = drdy_timeout()
    r = client.post("/technician/selftest", data={"csrf_token": token})
    assert r.status_code == 503 and "Hardware fault:" in r.get_data(as_text=True)
    assert "ADS1256 DRDY (GPIO17) stayed high for 0.5 s" in r.get_data(as_text=True)
    assert rig.state.state is State.FAULT
    assert "fault: ADS1256 DRDY" in client.get("/").get_data(as_text=True)  # the Now page says why


def upload(client, token, path=None, *, data=None, name="pkg.zip"):
    content = path.read_bytes() if path is not None else data
    return client.post("/technician/model", data={"csrf_token": token, "package": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_upload_good_package_installs_keeps_and_journals(rig, client, tmp_path_factory):
    token = logged_in_token(client)
    pkg = make_package(rig.issuer[0], tmp_path_factory.mktemp("pkg") / "fpi-test-v2.zip", version="2")
    r = upload(client, token, pkg, name="fpi-test-v2.zip")
    assert r.status_code == 303
    html = client.get("/technician").get_data(as_text=True)
    assert "Model fpi-test 2 installed and in service; it replaced fpi-test 1" in html
    assert rig.slot.current().version == "2"
    kept = ModelStore(rig.state_dir).current()
    assert kept is not None and kept.name == "fpi-test-v2.zip" and kept.read_bytes() == pkg.read_bytes()
    assert rig.journal.events(kind="model")[0]["code"] == "model-installed"
    assert not list(rig.state_dir.glob(".upload-*"))  # the temporary copy is gone
    # The new model is used by the next measurement, with its reference bands.
    rig.head.put(0.99)
    rig.measurement.take_reference("white")
    rig.head.put(PET)
    assert rig.measurement.measure({}, trigger="page")["model"]["version"] == "2"


def test_bad_packages_refused_with_cause_and_previous_model_kept(rig, client, tmp_path_factory):
    token = logged_in_token(client)
    d = tmp_path_factory.mktemp("bad")
    before = rig.slot.current()
    cases = [
        (make_package(rig.issuer[0], d / "tampered.zip", tamper_onnx=True), "tampered.zip",
         "tampered.zip: model.onnx SHA-256"),
        (make_package(generate_key(), d / "stranger.zip"), "stranger.zip", "which is not in trusted_issuers"),
        (make_package(rig.issuer[0], d / "led8.zip", head="led8"), "led8.zip",
         "package fpi-test is for the led8 head, this unit has the fpi head"),
    ]
    for path, name, cause in cases:
        r = upload(client, token, path, name=name)
        assert r.status_code == 422, name
        html = r.get_data(as_text=True)
        assert "Package refused:" in html and cause in html, name
        assert ".upload-" not in html  # the message names the uploaded file, not our temporary folder
    r = upload(client, token, data=b"this is not a zip", name="notes.txt")
    assert r.status_code == 422 and "notes.txt: not a folder and not a zip archive" in r.get_data(as_text=True)
    r = client.post("/technician/model", data={"csrf_token": token}, content_type="multipart/form-data")
    assert r.status_code == 400 and "choose a model package file" in r.get_data(as_text=True)
    assert rig.slot.current() is before
    assert ModelStore(rig.state_dir).current() is None


def test_upload_over_the_limit_is_413(rig, pw_hash):
    client = make_app(rig, pw_hash, max_upload_mb=0.01).test_client()
    token = logged_in_token(client)
    r = upload(client, token, data=b"x" * 20_000)
    assert r.status_code == 413 and "upload larger than the 0.01 MB limit" in r.get_data(as_text=True)


def test_upload_needs_login(rig, client):
    r = client.post("/technician/model", data={"package": (io.BytesIO(b"x"), "a.zip")},
                    content_type="multipart/form-data")
    assert r.status_code == 401


def test_calibration_certificate_view(rig, client):
    assert client.get("/technician/calibration").status_code == 303
    login(client)
    html = client.get("/technician/calibration").get_data(as_text=True)
    assert re.search(r'id="cert-id">cal-2026-001<', html) and "2099-05-27" in html and "max_error_nm" in html
    assert client.get("/api/calibration").get_json()["certificate"]["calibration_id"] == "cal-2026-001"
    rig.adapter._calibration = None
    assert "No calibration certificate is available" in client.get("/technician/calibration").get_data(as_text=True)


def test_package_that_cannot_be_kept_is_not_put_in_service(rig, client, tmp_path_factory):
    token = logged_in_token(client)
    (rig.state_dir / "models").write_text("a file where the model store should be")
    before = rig.slot.current()
    pkg = make_package(rig.issuer[0], tmp_path_factory.mktemp("pkg") / "fpi-test-v3.zip", version="3")
    r = upload(client, token, pkg)
    assert r.status_code == 500
    assert "Storage problem:" in r.get_data(as_text=True) and "cannot keep the model package" in r.get_data(as_text=True)
    assert rig.slot.current() is before  # verified, but not kept: not swapped either


def test_reference_and_self_test_refused_while_measuring(rig, client):
    token = logged_in_token(client)
    rig.head.put(0.99)
    rig.measurement.take_reference("white")
    rig.state.begin(State.MEASURING, "mqtt")
    for path, data in (("/technician/reference", {"kind": "white"}), ("/technician/selftest", {})):
        r = client.post(path, data={"csrf_token": token, **data})
        assert r.status_code == 409 and "device busy: measuring (started by mqtt" in r.get_data(as_text=True), path
