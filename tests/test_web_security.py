"""Login, rate limit, CSRF, cookies, the secret key and read access (test client)."""
import os
import stat

import pytest
from werkzeug.security import generate_password_hash

from firmware.errors import ConfigError, KeyFileError
from firmware.web.security import SECRET_KEY_FILE, LoginLimiter, load_or_create_secret_key
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import PASSWORD, csrf_of, login, make_app


def test_login_logout_and_technician_access(client):
    r = client.get("/technician")
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=/technician"
    assert client.get("/api/technician").status_code == 401  # JSON twin: no redirect, 401
    assert client.get("/api/calibration").status_code == 401
    r = login(client)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert client.get("/technician").status_code == 200
    assert client.get("/api/technician").get_json()["model"]["name"] == "fpi-test"
    r = client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert r.status_code == 303
    assert client.get("/technician").status_code == 303


def test_wrong_password_then_rate_limited_with_clear_message(rig, pw_hash):
    app = make_app(rig, pw_hash, login_max_failures=3, login_window_s=600)
    client = app.test_client()
    for left in (2, 1):
        r = login(client, "wrong password!")
        assert r.status_code == 401 and f"wrong password ({left} more attempt" in r.get_data(as_text=True)
    r = login(client, "wrong password!")
    assert r.status_code == 401 and "locked out for 10 min 0 s" in r.get_data(as_text=True)
    # Now even the right password is refused until the window ends, without checking it.
    r = login(client, PASSWORD)
    assert r.status_code == 429 and r.headers["Retry-After"]
    text = r.get_data(as_text=True)
    assert "too many failed logins from 127.0.0.1: 3 within 10 min 0 s. Try again in" in text
    # Another address is not affected.
    other = app.test_client()
    token = csrf_of(other)
    r = other.post("/login", data={"csrf_token": token, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 303


def test_limiter_window_and_bounded_memory():
    t = [0.0]
    lim = LoginLimiter(2, 60.0, max_addresses=3, clock=lambda: t[0])
    lim.failure("a")
    lim.failure("a")
    assert lim.retry_after("a") == pytest.approx(60.0)
    t[0] = 59.0
    assert lim.retry_after("a") == pytest.approx(1.0)
    t[0] = 60.0
    assert lim.retry_after("a") is None  # window over
    for addr in "bcde":
        lim.failure(addr)
    assert len(lim._entries) == 3 and "b" not in lim._entries  # oldest address dropped
    lim.failure("e")
    lim.success("e")
    assert lim.retry_after("e") is None and lim.failures_total == 7 and lim.lockouts_total == 2


def test_login_csrf_required(client):
    client.get("/login")
    r = client.post("/login", data={"password": PASSWORD})
    assert r.status_code == 400 and "CSRF token missing" in r.get_data(as_text=True)
    r = client.post("/login", data={"password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400 and "does not match this session" in r.get_data(as_text=True)
    r = client.post("/logout", data={})
    assert r.status_code == 400


def test_no_password_set_says_how_to_set_one(rig):
    client = make_app(rig).test_client()  # no hash file written
    r = login(client)
    assert r.status_code == 503
    assert "no technician password is set on this device: run `nir-device passwd`" in r.get_data(as_text=True)


def test_password_from_secret_wins_and_a_bad_hash_is_a_clear_error(rig, pw_hash, monkeypatch):
    client = make_app(rig, pw_hash).test_client()
    other = generate_password_hash("another password 1", method="pbkdf2:sha256:1000")
    monkeypatch.setenv("PLASTINIR_WEB_PASSWORD_HASH", other)
    assert login(client).status_code == 401
    assert login(client, "another password 1").status_code == 303
    monkeypatch.setenv("PLASTINIR_WEB_PASSWORD_HASH", "hunter2")  # a password where a hash belongs
    r = login(client, "hunter2")
    assert r.status_code == 503 and "is not a password hash" in r.get_data(as_text=True)
    assert "hunter2" not in r.get_data(as_text=True)


def test_changing_the_password_ends_existing_sessions(rig, app, client):
    login(client)
    assert client.get("/technician").status_code == 200
    (rig.state_dir / "web_password_hash").write_text(generate_password_hash("new password 99",
                                                                            method="pbkdf2:sha256:1000"))
    assert client.get("/technician").status_code == 303


def test_login_redirect_only_to_local_paths(client):
    token = csrf_of(client)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = client.post("/login", data={"csrf_token": token, "password": PASSWORD, "next": target})
        assert r.status_code == 303 and r.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
        token = csrf_of(client)
    r = client.post("/login", data={"csrf_token": token, "password": PASSWORD, "next": "/history?verdict=unknown"})
    assert r.headers["Location"] == "/history?verdict=unknown"


def test_cookie_flags(rig, pw_hash):
    client = make_app(rig, pw_hash).test_client()
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain HTTP, auto
    cookie = client.get("/login", base_url="https://device.local").headers["Set-Cookie"]
    assert "Secure" in cookie  # behind a TLS proxy
    always = make_app(rig, pw_hash, cookie_secure="always").test_client()
    assert "Secure" in always.get("/login").headers["Set-Cookie"]
    r = login(client)
    assert "Expires=" in r.headers["Set-Cookie"]  # a login is a permanent session for session_lifetime_h


def test_security_headers_and_no_external_resources(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"
    html = r.get_data(as_text=True)
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html


def test_private_read_needs_login(rig, pw_hash):
    client = make_app(rig, pw_hash, public_read=False).test_client()
    for path in ("/", "/history", "/device", "/history/1"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["Location"].startswith("/login?next="), path
    for path in ("/api/now", "/api/history", "/metrics", "/events"):
        assert client.get(path).status_code == 401, path
    with client.get("/static/app.css") as r:
        assert r.status_code == 200
    assert login(client).status_code == 303
    assert client.get("/").status_code == 200 and client.get("/metrics").status_code == 200


def test_secret_key_made_once_private_and_checked(tmp_path):
    key = load_or_create_secret_key(tmp_path)
    path = tmp_path / SECRET_KEY_FILE
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret_key(tmp_path) == key  # sessions survive a restart
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="readable by group or others .*chmod 600"):
        load_or_create_secret_key(tmp_path)
    os.chmod(path, 0o600)
    path.write_text("short\n")
    with pytest.raises(KeyFileError, match="not a 64-hex-digit secret key"):
        load_or_create_secret_key(tmp_path)


def test_http_config_rules():
    from firmware.config import load_config
    with pytest.raises(ConfigError, match="sse_max_clients = 3 would leave fewer than 2 of the 4 threads"):
        load_config(None, {"http": {"sse_max_clients": 3}})
    with pytest.raises(ConfigError, match="key http.bind = 'not an address!'"):
        load_config(None, {"http": {"bind": "not an address!"}})
    with pytest.raises(ConfigError, match="never put the password itself here") as err:
        load_config(None, {"http": {"password_hash": "hunter2"}})
    assert "hunter2" not in str(err.value).split("password_hash =")[-1].split(":")[1]
    with pytest.raises(ConfigError, match="unknown key 'http.prot'"):
        load_config(None, {"http": {"prot": 80}})
    assert load_config("config/device.example.toml").http.port == 8080


def test_background_requests_do_not_rewrite_the_session_cookie(client):
    """The live panel and polling run beside form posts: a stale cookie from them would drop a flash."""
    login(client)
    assert "Set-Cookie" in client.get("/").headers  # showing the login's flash message changes the session
    for path in ("/api/state", "/now/panel", "/api/now", "/", "/history"):
        assert "Set-Cookie" not in client.get(path).headers, path


POSTS = ("/measure", "/technician/reference", "/technician/selftest", "/technician/model", "/logout")


def test_every_action_needs_login_and_csrf(rig, client):
    for path in POSTS[:-1]:
        r = client.post(path, data={"kind": "white"})
        assert r.status_code == 401 and r.get_data(as_text=True).count("log in first"), path
    login(client)
    for path in POSTS:
        r = client.post(path, data={"kind": "white"})
        assert r.status_code == 400 and "CSRF token missing" in r.get_data(as_text=True), path
    assert rig.head.acquired == 0 and rig.journal.last_seq() == 0  # nothing moved


def test_unknown_paths_and_wrong_methods(client):
    r = client.get("/nowhere")
    assert r.status_code == 404 and "<h1>404" in r.get_data(as_text=True)
    r = client.get("/api/nowhere")
    assert r.status_code == 404 and r.get_json()["status"] == 404
    r = client.get("/measure")
    assert r.status_code == 405
