"""The device runtime as a whole (issue 4): software cost per measurement, start-up, memory.

- **Software time per measurement** beside the **physical acquisition time** it stands for
  (ratio): `DeviceRuntime.measure` end to end in simulation — drivers, simulated chips, quality
  checks, reflectance, onnxruntime, record signing, journal commit with ``synchronous=FULL`` —
  with ``sim.time_scale = 0`` so no simulated wait is slept; the physical time is what the same
  three fpi sweeps take on the real board (the simulator's clock). The simulator's own work is
  inside the software time, so the figure bounds the firmware's overhead from above.
- **Start to ready**: ``nir-device run --sim`` in a subprocess, from ``Popen`` until it sends
  systemd's ``READY=1`` on a notify socket this benchmark provides (``NOTIFY_SOCKET``) with
  ``STATUS=ready`` (the state directory holds a valid white reference, so the boot sequence ends
  in ``ready``). Ratio against a bare ``python -c "import numpy, onnxruntime"``: the part of the
  start-up no firmware change can remove.
- **Peak RSS** (VmHWM) of that ``run`` process after boot, and of a ``nir-device measure
  --count N`` process after N measurements (its own VmHWM, read by the process as it exits),
  against the 150 MB target that lets a Pi Zero 2 W (512 MB) run the device beside the OS.
  Not ``wait4``'s ``ru_maxrss``: Linux carries that across ``execve`` from the forking parent,
  so it reported this benchmark process's own size (275 MB once bench_calibration had loaded
  scikit-learn) instead of the device's; VmHWM belongs to the new address space.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import Figure

NIR_DEVICE = str(Path(sys.executable).with_name("nir-device"))
RSS_TARGET_MB = 150.0
CONFIG = '[hardware]\nbackend = "sim"\n[sim]\nseed = 3\n[clock]\nsynced = "never"\n[http]\nbind = "127.0.0.1"\n'


def _env(**extra: str) -> dict[str, str]:
    drop = ("PLASTINIR_CONFIG", "PLASTINIR_BACKEND", "STATE_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def _per_measurement(tmp: Path, n: int) -> tuple[float, float, dict[str, float]]:
    """(software s, physical s, median timings ms) per measurement of a PLA item, in this process."""
    from firmware.config import load_config
    from firmware.runtime import DeviceRuntime

    config = load_config(None, {"hardware": {"backend": "sim"}, "sim": {"seed": 3}, "clock": {"synced": "never"},
                                "http": {"enabled": False}})
    with DeviceRuntime(config, state_dir=tmp / "inproc") as rt:
        rt.start()
        rt.board.sim.place("white")
        rt.take_reference("white", trigger="bench")
        package = rt.models.current().model.package
        wall, physical, timings = [], [], []
        for _ in range(n + 2):
            rt.board.sim.place("pla", package=package)
            t0 = time.perf_counter()
            record = rt.measure({"sample_id": "bench"}, trigger="bench")
            wall.append(time.perf_counter() - t0)
            physical.append(record["timings_ms"]["physical"] / 1000.0)
            timings.append(record["timings_ms"])
    wall, physical, timings = wall[2:], physical[2:], timings[2:]  # first ones warm caches up
    med = {k: float(np.median([t.get(k, 0.0) for t in timings])) for k in ("acquire", "quality", "inference", "total")}
    return float(np.median(wall)), float(np.median(physical)), med


def _vmhwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


def _start_to_ready(tmp: Path, cfg: Path) -> tuple[float, float]:
    """(seconds from Popen to READY=1 with STATUS=ready, VmHWM MB after boot) of ``nir-device run``."""
    state = tmp / "run"
    subprocess.run([NIR_DEVICE, "reference", "white", "--sim", "--state-dir", str(state), "--config", str(cfg)],
                   check=True, capture_output=True, env=_env())
    sock_path = str(tmp / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(60)
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen([NIR_DEVICE, "run", "--sim", "--state-dir", str(state), "--config", str(cfg),
                                 "--http-port", "0", "--broker", "none"], env=_env(NOTIFY_SOCKET=sock_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while True:
                message = sock.recv(4096).decode()
                if message.startswith("READY=1"):
                    ready = time.perf_counter() - t0
                    break
            if "STATUS=ready" not in message:
                raise RuntimeError(f"device came up but not ready: {message!r}")
            rss = _vmhwm_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            if proc.returncode != 0:
                raise RuntimeError(f"nir-device run exited {proc.returncode}: {err.decode()[-500:]}")
    finally:
        sock.close()
    return ready, rss


# ``nir-device measure`` exactly as the console script runs it, plus an exit hook that reports the
# process's own peak resident set (VmHWM is per address space, so it starts afresh at exec).
_MEASURE_WITH_HWM = """
import atexit, sys
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            with open(sys.argv[1], "w") as out:
                out.write(line.split()[1])
atexit.register(report)
from firmware.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _measure_process_rss(tmp: Path, cfg: Path, count: int) -> float:
    """Peak RSS (MB) of one ``nir-device measure --count N`` process, as it reports on exit."""
    report = tmp / "measure-vmhwm.txt"
    done = subprocess.run([sys.executable, "-c", _MEASURE_WITH_HWM, str(report), "measure", "--sim", "--sample",
                           "pet", "--auto-reference", "--json", "--count", str(count), "--state-dir",
                           str(tmp / "measure"), "--config", str(cfg)],
                          env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"nir-device measure exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return int(report.read_text()) / 1024.0  # kB


def _bare_import_s() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy, onnxruntime"], check=True, env=_env())
    return time.perf_counter() - t0


def run(quick: bool) -> list[Figure]:
    n = 5 if quick else 40
    with tempfile.TemporaryDirectory(prefix="bench-device-") as tmp_name:
        tmp = Path(tmp_name)
        cfg = tmp / "device.toml"
        cfg.write_text(CONFIG)
        software, physical, med = _per_measurement(tmp, n)
        ready, run_rss = _start_to_ready(tmp, cfg)
        bare = _bare_import_s()
        measure_rss = _measure_process_rss(tmp, cfg, 3 if quick else 20)
    wall_ms = software * 1000.0
    rest = med["total"] - med["acquire"] - med["inference"]   # reflectance, quality, grid, record, signature
    commit = max(0.0, wall_ms - med["total"])                   # after "total": journal commit, state, hooks
    return [
        Figure("fpi measurement: software time (3 sweeps, sim)", software * 1000.0, "ms", software / physical,
               "physical acquisition time"),
        Figure("fpi measurement: physical acquisition time (3 sweeps)", physical, "s"),
        Figure("  of which drivers + simulator (acquire)", med["acquire"], "ms", med["acquire"] / wall_ms,
               "software time"),
        Figure("  of which onnxruntime inference", med["inference"], "ms", med["inference"] / wall_ms, "software time"),
        Figure("  of which reflectance, quality checks, record + signature", rest, "ms", rest / wall_ms,
               "software time"),
        Figure("  of which journal commit (synchronous=FULL), state, hooks", commit, "ms", commit / wall_ms,
               "software time"),
        Figure("nir-device run: start to ready (READY=1, state ready)", ready, "s", ready / bare,
               "python -c 'import numpy, onnxruntime'"),
        Figure("nir-device run: peak RSS after boot (VmHWM)", run_rss, "MB", run_rss / RSS_TARGET_MB,
               "150 MB target (Pi Zero 2 W)", "≤ 150 MB"),
        Figure(f"nir-device measure --count {3 if quick else 20}: peak RSS", measure_rss, "MB",
               measure_rss / RSS_TARGET_MB, "150 MB target (Pi Zero 2 W)", "≤ 150 MB"),
    ]
