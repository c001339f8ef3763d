"""Live updates: the SSE hub's bounds (clients, lifetime, heartbeat) with the test client and the hub
itself; the same bounds through real waitress are in test_web_serve.py."""
import json
import threading

from firmware.state import DeviceState, State
from firmware.web.live import LiveHub
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import make_app, white


def events(chunks):
    """Parse SSE chunks into (kind, payload) tuples: ('state', dict) or ('comment', text)."""
    out = []
    for chunk in chunks:
        for block in chunk.decode().split("\n\n"):
            for line in block.splitlines():
                if line.startswith("data: "):
                    out.append(("state", json.loads(line[6:])))
                elif line.startswith(": "):
                    out.append(("comment", line[2:]))
    return out


def test_stream_limit_503_and_slots_given_back(rig, pw_hash):
    app = make_app(rig, pw_hash, threads=4, sse_max_clients=2)
    client = app.test_client()
    hub = app.extensions["plastinir"].live
    a = client.get("/events", buffered=False)
    b = client.get("/events", buffered=False)
    assert a.status_code == b.status_code == 200 and a.mimetype == "text/event-stream"
    assert hub.clients == 2
    refused = client.get("/events")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert "at their limit of open streams; this page polls instead" in refused.get_json()["message"]
    first = next(iter(a.response))
    assert first.startswith(b"retry: 3000\n\n") and events([first])[0][1]["state"] == "needs_reference"
    a.close()
    b.close()  # never iterated: the slot still comes back
    assert hub.clients == 0 and hub.refused_total == 1
    c = client.get("/events", buffered=False)
    assert c.status_code == 200
    c.close()


def test_polling_only_when_streams_disabled(rig, pw_hash):
    app = make_app(rig, pw_hash, sse_max_clients=0)
    client = app.test_client()
    assert client.get("/events").status_code == 503
    assert 'data-live="off"' in client.get("/").get_data(as_text=True)


def test_hub_pushes_changes_heartbeats_and_ends_at_lifetime():
    state = DeviceState()
    t = [0.0]
    hub = LiveHub(state.subscribe, max_clients=1, lifetime_s=10.0, heartbeat_s=0.05, clock=lambda: t[0])
    stream = hub.open(state.snapshot())
    it = iter(stream)
    assert events([next(it)])[0][1]["state"] == "booting"
    state.transition(State.SELF_TEST)
    kind, payload = events([next(it)])[0]
    assert kind == "state" and payload["state"] == "self_test"
    assert events([next(it)]) == [("comment", "heartbeat")]  # idle: a heartbeat after heartbeat_s
    t[0] = 10.0  # lifetime over
    assert events([next(it)]) == [("comment", "lifetime over, reconnect")]
    assert list(it) == []
    stream.close()
    stream.close()  # idempotent
    assert hub.clients == 0
    hub.close()
    assert hub.open(state.snapshot()) is None  # closed hub: no new streams


def test_hub_close_ends_waiting_streams_promptly():
    state = DeviceState()
    hub = LiveHub(state.subscribe, max_clients=2, lifetime_s=600.0, heartbeat_s=60.0)
    stream = hub.open(state.snapshot())
    it = iter(stream)
    next(it)
    done = threading.Event()

    def drain():
        list(it)
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    hub.close()
    assert done.wait(2.0), "a stream kept its thread after the hub closed"
    stream.close()


def test_state_change_reaches_an_open_stream_through_the_app(rig, pw_hash):
    app = make_app(rig, pw_hash)
    client = app.test_client()
    r = client.get("/events", buffered=False)
    it = iter(r.response)
    next(it)
    white(rig)  # referencing → ready: two transitions
    seen = [p["state"] for k, p in events([next(it)]) if k == "state"]
    assert seen and seen[0] in ("referencing", "ready")
    r.close()
