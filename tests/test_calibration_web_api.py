"""The technician's JSON API over real HTTP (waitress on a free loopback port, the runtime on the
simulator): login and CSRF for tools, scans, sessions, certificate and model installs, and the
certificate on the status pages."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from werkzeug.security import generate_password_hash

from calibration_support import certificate
from device_support import make_runtime, white_reference
from firmware.services import start_page
from firmware.signing import generate_key, public_key_b64
from firmware.web.security import PASSWORD_HASH_FILE
from host.unitcal.device import DeviceRequestError, HttpDevice

PASSWORD = "bench password 7"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(runtime, page URL, technician key)."""
    key = generate_key()
    state = tmp_path_factory.mktemp("unit")
    (state / PASSWORD_HASH_FILE).write_text(generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
    (state / PASSWORD_HASH_FILE).chmod(0o600)
    rt = make_runtime(state, {"http": {"enabled": True, "bind": "127.0.0.1", "port": 0},
                              "calibration": {"trusted_keys": [public_key_b64(key)]}})
    page = start_page(rt)
    try:
        white_reference(rt)
        yield rt, page.where, key
    finally:
        page.stop()
        rt.close()


def _post(url: str, data: bytes, content_type: str, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type,
                                                                         **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _device(url: str) -> HttpDevice:
    dev = HttpDevice(url)
    dev.login(PASSWORD)
    return dev


def test_tools_log_in_with_json_and_send_the_csrf_token(served):
    rt, url, _ = served
    with pytest.raises(DeviceRequestError, match="401 wrong password") as err:
        HttpDevice(url).login("not it")
    assert err.value.status == 401
    status, body = _post(url + "/api/technician/login", b"password=" + PASSWORD.encode(),
                         "application/x-www-form-urlencoded")  # what a hostile page's form could send
    assert status == 415 and "JSON" in body["message"]
    status, _ = _post(url + "/api/technician/scan", b"{}", "application/json")
    assert status == 401
    dev = _device(url)
    dev._csrf = None  # logged in, but the token is not sent
    with pytest.raises(DeviceRequestError, match="400 CSRF token missing"):
        dev.scan()
    dev = _device(url)
    assert dev.status()["unit"] == rt.identity.unit


def test_scans_references_and_bad_arguments(served):
    rt, url, _ = served
    dev = _device(url)
    status = dev.status()
    assert (status["head"], status["serial"], len(status["wavelengths_nm"])) == ("fpi", "SIM-00000", 61)
    rt.board.sim.place("white")
    assert dev.reference("white")["kind"] == "white"
    scan = dev.scan(scans=2, repeats=2)
    assert len(scan["repeats"]) == 2 and len(scan["repeats"][0]["reflectance"]) == 2
    assert scan["repeats"][0]["mean"][30] == pytest.approx(0.99, abs=0.002)
    with pytest.raises(DeviceRequestError, match="400 unknown argument"):
        dev._request("POST", "/api/technician/scan", {"scanz": 3})
    with pytest.raises(DeviceRequestError, match="400 scans = 99: must be 1–50"):
        dev.scan(scans=99)
    with pytest.raises(DeviceRequestError, match="400 .*session action 'explode'"):
        dev.session("explode")


def test_certificates_install_over_the_api_and_show_on_the_pages(served):
    rt, url, key = served
    dev = _device(url)
    unit = rt.identity.unit
    answer = dev.install_calibration(certificate(unit, key, failed=("photometric.repeatability",), cid="cal-web-1"))
    assert answer["state"] == "needs_calibration" and "cal-web-1 failed" in answer["reason"]
    assert dev.certificate()["calibration_id"] == "cal-web-1"
    summary = dev.device()["device"]["calibration"]
    assert summary["id"] == "cal-web-1" and summary["passed"] is False
    with urllib.request.build_opener(urllib.request.HTTPCookieProcessor(dev._cookies)).open(
            url + "/technician/calibration", timeout=30) as resp:
        html = resp.read().decode()
    assert "cal-web-1" in html and "FAILED" in html and 'id="check-photometric.repeatability"' in html
    with pytest.raises(DeviceRequestError, match="422 .*signature does not verify") as err:
        dev.install_calibration({**certificate(unit, key, cid="cal-web-2"), "technician": "forger"})
    assert err.value.status == 422
    answer = dev.install_calibration(certificate(unit, key, cid="cal-web-3"))
    assert answer["state"] == "ready" and answer["replaced"]["id"] == "cal-web-1"


def test_sessions_and_model_uploads_over_the_api(served):
    rt, url, _ = served
    dev = _device(url)
    assert dev.session("begin")["session"] is not None
    assert dev.status()["state"] == "needs_calibration"
    assert dev.session("abort")["session"] is None
    with pytest.raises(DeviceRequestError, match="415"):
        dev._request("POST", "/api/technician/model", {"package": "x"})
    with pytest.raises(DeviceRequestError, match="422 .*not a folder and not a zip"):
        dev.install_model(b"certainly not a zip")
