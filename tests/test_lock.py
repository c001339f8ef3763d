import os
import signal
import subprocess
import sys

import pytest

from firmware.errors import DeviceBusy
from firmware.lock import BUSY_MESSAGE, HardwareLock, holder

HOLDER = """
import sys, time
from firmware.lock import HardwareLock
lock = HardwareLock(sys.argv[1], "nir-device run").acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_second_user_refused_with_message(tmp_path):
    assert BUSY_MESSAGE == "device busy: use the status page or MQTT"
    with HardwareLock(tmp_path, "nir-device run"):
        info = holder(tmp_path)
        assert info["pid"] == os.getpid() and info["owner"] == "nir-device run"
        with pytest.raises(DeviceBusy, match=rf"^{BUSY_MESSAGE} \(held by pid {os.getpid()}: nir-device run, for"):
            HardwareLock(tmp_path, "nir-device measure").acquire()
    assert holder(tmp_path) is None
    with HardwareLock(tmp_path, "nir-device measure") as lock:
        assert lock.held


def test_lock_released_when_holder_is_killed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(DeviceBusy, match=f"held by pid {proc.pid}"):
            HardwareLock(tmp_path, "nir-device measure").acquire()
        assert holder(tmp_path)["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    assert holder(tmp_path) is None  # dead holder: its pid is gone, the kernel dropped the flock
    with HardwareLock(tmp_path, "nir-device measure"):
        pass
