"""``nir-host calibrate-unit --sim``: what the whole workflow costs in software against what it
takes on a real unit.

The simulated unit runs on simulated time, so its board clock says how long the same scans and
waits (warm-up interval included) would take on real hardware; the software time is the wall
time of the workflow in this process (HTTP to the unit's page, the runtime, the register-level
simulator, peak fitting, `host.calib.adapt`, signing). Also: how many scans a calibration takes,
and the reference set's agreement with the master before and after (the proof of issue 7).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bench import Figure
from firmware.config.model import newest_package
from firmware.signing import generate_key, public_key_b64
from host.unitcal.device import HttpDevice
from host.unitcal.simunit import SimBench, SimUnit, master_answers, reference_set
from host.unitcal.workflow import Options, calibrate


def run(quick: bool) -> list[Figure]:
    key = generate_key()
    model = newest_package("fpi")
    with tempfile.TemporaryDirectory(prefix="bench-calibration-") as tmp:
        tmp = Path(tmp)
        with SimUnit(tmp / "unit", wavelength_error_nm=6.0, gain_error=0.2, seed=7,
                     trusted_keys=[public_key_b64(key)], model=model) as unit, \
                SimUnit(tmp / "master", seed=8, serve=False, model=model) as master:
            items = reference_set(master.package(), np.random.default_rng(7), per_class=1 if quick else 2)
            master_answers(master, items)
            device = HttpDevice(unit.url)
            device.login(unit.password)
            options = Options(technician="bench", key=key, model=model, out_dir=tmp / "out", pdf=False)
            t0 = time.perf_counter()
            outcome = calibrate(device, SimBench(unit, say=lambda m: None), items, options, log=lambda m: None)
            wall = time.perf_counter() - t0
    physical = device.physical_time_s
    agreement = outcome.summary()["agreement"]
    return [
        Figure("calibration workflow, software time (sim, HTTP, adapt, signing)", wall, "s", wall / physical,
               "physical time of its scans and waits on a real unit"),
        Figure("calibration workflow, physical time on a real unit", physical / 60.0, "min"),
        Figure("reference set items", float(len(items)), "items"),
        Figure("agreement with the master, as found (+6 nm, +20 %)", agreement.get("as_found") or 0.0, ""),
        Figure("agreement with the master, after calibration", agreement.get("after") or 0.0, "", target="≥ 0.95"),
        Figure("certificate passed", float(outcome.passed), "", target="1"),
    ]
