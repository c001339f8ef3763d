"""The page under real waitress: a forgotten tab cannot starve the fixed thread pool."""
import http.client
import socket
import time

import pytest

from firmware.config import load_config
from firmware.errors import ConfigError
from firmware.web.serve import PageServer
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import make_app


@pytest.fixture
def served(rig, pw_hash):
    app = make_app(rig, pw_hash, bind="127.0.0.1", port=0, threads=4, sse_max_clients=2, sse_heartbeat_s=0.5,
                   sse_lifetime_s=30)
    server = PageServer(app, load_config(None, {"http": {"bind": "127.0.0.1", "port": 0, "threads": 4}}).http)
    server.start()
    yield app, server
    server.stop()


def open_stream(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/events")
    resp = conn.getresponse()
    return conn, resp


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def get(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def test_streams_bounded_and_pages_still_served(served):
    app, server = served
    hub = app.extensions["plastinir"].live
    streams = [open_stream(server) for _ in range(2)]
    for _, resp in streams:
        assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
        assert resp.readline() == b"retry: 3000\n"  # flushed at once, not buffered by waitress
    status, body = get(server, "/events")
    assert status == 503 and b"this page polls instead" in body
    # Two threads hold streams; the other two still serve pages, repeatedly.
    for _ in range(5):
        status, body = get(server, "/api/state")
        assert status == 200 and b'"state":"needs_reference"' in body
    assert get(server, "/")[0] == 200
    # A tab that went away: its thread comes back within a heartbeat or two.
    conn, resp = streams.pop()
    resp.close()  # closes the socket: the client is gone
    conn.close()
    assert wait_for(lambda: hub.clients == 1), f"stream slot not released ({hub.clients} open)"
    conn, resp = open_stream(server)
    assert resp.status == 200
    conn.close()
    streams[0][0].close()


def test_stream_ends_at_its_lifetime_and_frees_the_thread(served):
    app, server = served
    hub = app.extensions["plastinir"].live
    hub.lifetime_s = 0.6  # below the config minimum, to keep the test short
    conn, resp = open_stream(server)
    t0 = time.monotonic()
    body = resp.read()  # returns when the server ends the stream
    assert b": lifetime over, reconnect" in body and time.monotonic() - t0 < 5
    assert wait_for(lambda: hub.clients == 0)
    conn.close()


def test_stop_returns_promptly_with_streams_open(rig, pw_hash):
    app = make_app(rig, pw_hash)
    server = PageServer(app, load_config(None, {"http": {"bind": "127.0.0.1", "port": 0}}).http)
    server.start()
    conn, resp = open_stream(server)
    assert resp.status == 200
    t0 = time.monotonic()
    server.stop(timeout=3)
    assert time.monotonic() - t0 < 3 and not server._thread.is_alive()
    conn.close()


def test_port_in_use_names_the_address(rig, pw_hash):
    app = make_app(rig, pw_hash)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        http_cfg = load_config(None, {"http": {"bind": "127.0.0.1", "port": port}}).http
        with pytest.raises(ConfigError, match=rf"http: cannot listen on 127.0.0.1:{port}: address already in use"):
            PageServer(app, http_cfg)
