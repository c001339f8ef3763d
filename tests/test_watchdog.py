import os
import socket

import pytest

from firmware.watchdog import Watchdog


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    yield path, sock
    sock.close()


def systemd_env(monkeypatch, **env):
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_messages_reach_systemd_socket(notify_socket, monkeypatch):
    path, sock = notify_socket
    systemd_env(monkeypatch, NOTIFY_SOCKET=path, WATCHDOG_USEC="30000000", WATCHDOG_PID=str(os.getpid()))
    wd = Watchdog()
    assert wd.interval_s == 15.0  # half of WatchdogSec=30
    wd.ready("ready: fpi head, model fpi-1550-1850-v1")
    assert sock.recv(256) == b"READY=1\nSTATUS=ready: fpi head, model fpi-1550-1850-v1"
    assert wd.ping() is True
    assert sock.recv(64) == b"WATCHDOG=1"
    assert wd.ping() is False  # rate-limited to half the interval
    assert wd.ping(force=True) is True and sock.recv(64) == b"WATCHDOG=1"
    wd.status("needs reference\nsecond line dropped")
    assert sock.recv(64) == b"STATUS=needs reference"
    wd.stopping()
    assert sock.recv(64) == b"STOPPING=1"
    wd.close()


def test_watchdog_for_another_pid_is_not_ours(notify_socket, monkeypatch):
    path, _ = notify_socket
    systemd_env(monkeypatch, NOTIFY_SOCKET=path, WATCHDOG_USEC="30000000", WATCHDOG_PID="1")
    wd = Watchdog()
    assert wd.interval_s is None and wd.ping() is False
    wd.close()


def test_noop_outside_systemd(monkeypatch):
    systemd_env(monkeypatch)
    wd = Watchdog()
    assert not wd.enabled and wd.interval_s is None
    wd.ready("x")
    wd.status("y")
    assert wd.ping(force=True) is False
    wd.close()
