"""``nir-device run`` as a process with its MQTT link (the contract is the process): results
measured with ``nir-device measure`` while no link ran are delivered by the next ``run``; a run
SIGKILLed while it drains its backlog leaves the Last Will ``offline`` and, restarted, delivers
the rest with nothing stored twice; ``online`` on every connect, ``stopped`` on a clean exit."""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from conftest import register_unit, unsigned_record
from device_support import NIR_DEVICE, child_env, nir_device
from firmware.identity import load_identity
from firmware.journal import Journal
from link_support import stored
from support.mqtt import close, connect, subscribe, wait_until

CONFIG = """
[hardware]
backend = "sim"
[sim]
seed = 5
[clock]
synced = "never"
[http]
enabled = false
[mqtt]
resend_after_s = 1.0
inflight_window = 2
reconnect_min_s = 0.05
reconnect_max_s = 0.5
keepalive_s = 5
"""
BULK = 300


def start_run(state, cfg, url, tmp_path, n):
    with open(tmp_path / f"run{n}.err", "w") as err:
        return subprocess.Popen([NIR_DEVICE, "run", "--sim", "--state-dir", str(state), "--config", cfg,
                                 "--broker", url], env=child_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)


@pytest.mark.slow
def test_backlog_from_measure_delivered_by_run_through_a_sigkill(tmp_path, broker, bureau_factory):
    state, cfg = tmp_path / "state", tmp_path / "device.toml"
    cfg.write_text(CONFIG)
    cfg = str(cfg)
    # measured while no link ran
    out = nir_device("measure", "--sim", "--sample", "pla", "--json", "--auto-reference", "--count", "3",
                     "--state-dir", str(state), "--config", cfg)
    assert out.returncode == 0, out.stderr
    identity = load_identity(state)
    with Journal.open(state) as journal:           # and an older backlog, signed by the unit's key
        for _ in range(BULK):
            journal.append_result(lambda seq: identity.sign(unsigned_record(identity.unit, seq)))
        total = journal.last_seq()
    assert total == BULK + 3
    db_url = f"sqlite:///{tmp_path / 'bureau.db'}"
    register_unit(db_url, identity.unit, identity.public_key)
    bureau_factory(db_url, broker.url)
    watcher = connect(broker.url)
    statuses = subscribe(watcher, f"plastinir/{identity.unit}/status")

    def said(text):
        return lambda msgs: any(m.payload == text for m in msgs)

    proc = start_run(state, cfg, broker.url, tmp_path, 1)
    try:
        assert statuses.wait_for(said(b"online"), 30), (tmp_path / "run1.err").read_text()
        assert wait_until(lambda: len(stored(db_url, identity.unit)) >= 40, 30)
        os.kill(proc.pid, signal.SIGKILL)                # mid-drain: results in flight, acks on their way
        proc.wait(10)
        assert statuses.wait_for(said(b"offline"), 15)  # the broker published the Last Will
        with Journal.open(state) as journal:
            left = journal.depth()
        assert 0 < left < total
        statuses.messages.clear()
        proc = start_run(state, cfg, broker.url, tmp_path, 2)
        assert statuses.wait_for(said(b"online"), 30)
        with Journal.open(state) as journal:
            assert wait_until(lambda: journal.depth() == 0, 60), f"outbox still {journal.depth()}"
        seqs = stored(db_url, identity.unit)
        assert seqs == list(range(1, total + 1))        # every result once: nothing lost, nothing twice
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert statuses.wait_for(said(b"stopped"), 10)
        assert "MQTT link: mqtt://" in (tmp_path / "run2.err").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        close(watcher)
