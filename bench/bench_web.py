"""The status page: what a page costs the device, in time and memory, beside what it reads.

- the Now page (verdict + server-drawn SVG) per request, as a ratio to reading the latest record
  from the journal: the price of rendering on the device instead of shipping a chart library;
- /metrics per scrape and the History page (25 rows) per request, each against the Now page;
- bytes of the Now page (what a phone downloads per refresh; no external resources exist);
- the resident memory the page adds to a process that already runs the pipeline (flask,
  waitress, templates, one app serving requests), measured in a fresh child process, against
  the 150 MB budget of the whole device process (issue 4);
- one scrypt password check (werkzeug's default): why checks are serialised and rate-limited.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import Figure
from firmware.identity import load_identity
from firmware.journal import Journal
from firmware.optics import fpi_grid
from firmware.result_builder import build_signed_record
from firmware.state import DeviceState, State

WL = fpi_grid()
REPO = Path(__file__).resolve().parents[1]


def _outcome(i: int) -> dict:
    cls = ("PET", "PLA", "HDPE")[i % 3]
    return {"verdict": "identified", "reason": None, "class": cls, "degradable": cls == "PLA", "confidence": 0.97,
            "scores": {cls: 0.97}, "t2": 2.5, "q": 0.004, "limits": {"t2": 12.0, "q": 0.05},
            "composition": {}}


def fill(state_dir: Path, n: int) -> tuple[Journal, object]:
    identity = load_identity(state_dir)
    journal = Journal.open(state_dir)
    rng = np.random.default_rng(3)
    for i in range(n):
        journal.append_result(lambda seq, i=i: build_signed_record(
            identity.key, unit=identity.unit, seq=seq, boot_id="1-bench", time="2026-11-27T08:31:08.123Z",
            clock_synced=True, model={"name": "fpi-1550-1850-v1", "version": "1", "sha256": "a" * 64},
            outcome=_outcome(i), sample={"sample_id": f"S-{seq}", "merchant": "Shop A"}, wavelengths_nm=WL,
            spectrum=rng.uniform(0.2, 0.8, WL.size), raw_dark=rng.normal(1200, 200, WL.size),
            raw_lit=rng.uniform(1e6, 4e6, WL.size), timings_ms={"inference": 0.3, "total": 1850.0}))
    return journal, identity


def _per_call(fn, n: int) -> float:
    fn()  # warm: templates compiled, connections open
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


# Resident set from /proc (getrusage's ru_maxrss would carry the parent's peak across exec on Linux).
_CHILD = """
import json, sys
def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
import numpy  # what the device process holds anyway: numpy, config, journal, state, the pipeline
from firmware.journal import Journal
from firmware.measurement import Measurement
from firmware.state import DeviceState
before = rss_kb()
from firmware.config import load_config
from firmware.web import create_app
from firmware.web.runtime_adapter import RuntimeAdapter
d = sys.argv[1]
j = Journal.open(d)
app = create_app(load_config(None), runtime=RuntimeAdapter(journal=j, state=DeviceState()), state_dir=d)
c = app.test_client()
for path in ("/", "/history", "/device", "/metrics", "/api/now") * 10:
    c.get(path).close()
after = rss_kb()
print(json.dumps({"before_kb": before, "after_kb": after}))
"""


def _added_rss_mb(state_dir: Path) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(state_dir)], cwd=REPO, capture_output=True,
                         text=True, check=True, timeout=120)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return (figures["after_kb"] - figures["before_kb"]) / 1024.0


def run(quick: bool) -> list[Figure]:
    from werkzeug.security import check_password_hash, generate_password_hash

    from firmware.config import load_config
    from firmware.web import create_app
    from firmware.web.runtime_adapter import RuntimeAdapter

    n = 20 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp)
        journal, identity = fill(state_dir, 60)
        state = DeviceState()
        state.transition(State.SELF_TEST)
        state.transition(State.READY)
        app = create_app(load_config(None), runtime=RuntimeAdapter(journal=journal, identity=identity, state=state),
                         state_dir=state_dir)
        client = app.test_client()

        def get(path):
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)
            return r.data

        t_latest = _per_call(journal.latest, n)
        t_now = _per_call(lambda: get("/"), n)
        t_metrics = _per_call(lambda: get("/metrics"), n)
        t_history = _per_call(lambda: get("/history"), n)
        page_bytes = len(get("/"))
        rss = _added_rss_mb(state_dir)
        journal.close()
    pw_hash = generate_password_hash("bench password")
    t_check = _per_call(lambda: check_password_hash(pw_hash, "bench password"), 1 if quick else 5)
    return [
        Figure("Now page (verdict + SVG) per request", t_now * 1000, "ms", t_now / t_latest,
               "reading the latest record from the journal"),
        Figure("/metrics per scrape", t_metrics * 1000, "ms", t_metrics / t_now, "Now page"),
        Figure("History page (25 rows) per request", t_history * 1000, "ms", t_history / t_now, "Now page"),
        Figure("Now page size", page_bytes / 1000, "kB"),
        Figure("RSS the page adds (flask, waitress, app, 50 requests)", rss, "MB", rss / 150.0,
               "150 MB device process budget", "small share"),
        Figure("scrypt password check", t_check * 1000, "ms", t_check / t_now, "Now page"),
    ]
