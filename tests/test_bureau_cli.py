"""``nir-host bureau`` as a real process: SIGTERM stops it cleanly, SIGKILL loses nothing."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import unsigned_record
from host.bureau.migrations import open_database
from support.fake_unit import FakeUnit
from support.mqtt import wait_until

NIR_HOST = str(Path(sys.executable).with_name("nir-host"))


def _start(db_url, broker, log, notify_socket=""):
    return subprocess.Popen([NIR_HOST, "bureau", "--db", db_url, "--broker", broker.url, "--client-id", "cli-bureau"],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NOTIFY_SOCKET": notify_socket})


def _drain(sock) -> set[str]:
    """sd_notify datagrams received so far (one or more NAME=value lines each)."""
    out = set()
    while True:
        try:
            out.update(sock.recv(4096).decode().splitlines())
        except BlockingIOError:
            return out


@pytest.mark.slow
def test_ingester_process_killed_and_restarted_loses_and_duplicates_nothing(broker, db_url, unit_key, tmp_path):
    key, pub, unit_id = unit_key
    assert subprocess.run([NIR_HOST, "units", "add", unit_id, "--public-key", pub, "--db", db_url],
                          capture_output=True, text=True, check=True).stdout.strip() == f"{unit_id}: added"
    log_path = tmp_path / "bureau.log"
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.setblocking(False)
    with notify, open(log_path, "ab") as log:
        proc = _start(db_url, broker, log)
        unit = FakeUnit(broker.url, unit_id, key, unsigned_record, resend_after_s=2.0).start()
        try:
            assert wait_until(lambda: "subscribed" in log_path.read_text(), 20), log_path.read_text()
            unit.measure(40)
            assert wait_until(lambda: len(unit.unacked()) < 40, 10)
            proc.send_signal(signal.SIGKILL)   # mid-stream: some stored, some queued at the broker
            proc.wait(10)
            unit.measure(40)                   # the broker queues these for the persistent session
            time.sleep(0.2)
            proc = _start(db_url, broker, log, str(notify_path))  # now as systemd would run it
            assert unit.wait_all_acked(30), unit.unacked()
            notes = set()
            assert wait_until(lambda: notes.update(_drain(notify)) or {"READY=1", "WATCHDOG=1"} <= notes, 10), notes
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            unit.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log_path.read_text()
    assert "session present: True" in text  # the restarted ingester resumed its session
    assert "stopped: received=" in text.splitlines()[-1]
    with open_database(db_url) as db:
        assert db.query("SELECT COUNT(*), COUNT(DISTINCT seq), MAX(seq) FROM results") == [(80, 80, 80)]
        assert db.query("SELECT COUNT(*) FROM gaps WHERE state = 'open'") == [(0,)]
