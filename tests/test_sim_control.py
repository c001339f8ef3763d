"""`firmware.sim.control`: the soak harness's hands inside a running simulated unit.

Off by default, refused on real hardware, and every effect goes through the real code paths: an
injected fault is found by the drivers at the next measurement (fault state, fault event with
``detail.error``), ``clear`` leaves the fault through the runtime's self-test, a press goes
through the loop's debounced button.
"""
from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest

from device_support import make_runtime, place, white_reference
from firmware.errors import ConfigError, HardwareError
from firmware.loop import AcquisitionLoop
from firmware.sim.control import CONTROL_DIR, SimControl, start_sim_control, write_whole
from firmware.state import State


def _ask(rt, name: str, request: dict, timeout: float = 15.0) -> dict:
    directory = rt.state_dir / CONTROL_DIR
    write_whole(directory / f"{name}.json", request)
    done = directory / f"{name}.done"
    deadline = time.monotonic() + timeout
    while not done.exists():
        assert time.monotonic() < deadline, f"no answer to {request}"
        time.sleep(0.02)
    assert not (directory / f"{name}.json").exists()
    return json.loads(done.read_text())


@pytest.fixture
def unit(tmp_path):
    rt = make_runtime(tmp_path / "unit", {"sim": {"control": True}})
    white_reference(rt)
    place(rt, "pet")
    control = start_sim_control(rt)
    yield rt, control
    control.stop()
    rt.close()


def test_off_by_default(tmp_path):
    rt = make_runtime(tmp_path / "unit", start=False)
    try:
        assert start_sim_control(rt) is None
        assert not (rt.state_dir / CONTROL_DIR).exists()
    finally:
        rt.close()


def test_refused_on_real_hardware():
    runtime = SimpleNamespace(config=SimpleNamespace(sim=SimpleNamespace(control=True, press_every_s=0.0)),
                              board=SimpleNamespace(sim=None, backend="rpi"))
    with pytest.raises(ConfigError, match="sim.control = true.*runs on rpi hardware"):
        start_sim_control(runtime)


def test_injected_fault_is_found_by_the_drivers_and_cleared_by_the_self_test(unit):
    rt, _ = unit
    answer = _ask(rt, "001-inject", {"action": "inject", "fault": "miso-high"})
    assert answer == {"ok": True, "error": None, "result": {"active_faults": ["miso-high"]}}
    with pytest.raises(HardwareError, match="MISO stuck high"):
        rt.measure({})
    assert rt.state.state is State.FAULT
    assert rt.journal.events(kind="fault")[0]["detail"] == {"error": "DataLineStuck"}
    answer = _ask(rt, "002-clear", {"action": "clear"})
    assert answer["ok"] and answer["result"] == {"state": "ready"}
    # the reopened board has the config's item on the port (the empty port); put a PET item back
    assert _ask(rt, "003-place", {"action": "place", "sample": "pet"})["ok"]
    record = rt.measure({})
    assert record["verdict"] == "identified" and record["class"] == "PET"


def test_bad_requests_are_answered_with_the_cause(unit):
    rt, control = unit
    assert _ask(rt, "a", {"action": "inject", "fault": "gremlins"})["error"].startswith(
        "ValueError: unknown fault 'gremlins'; known: drdy-stuck")
    assert _ask(rt, "b", {"action": "dance"})["error"] == \
        "ValueError: unknown action 'dance'; known: inject, clear, press, place, press-every"
    (rt.state_dir / CONTROL_DIR / "c.json").write_text("{not json")
    deadline = time.monotonic() + 10
    while not (rt.state_dir / CONTROL_DIR / "c.done").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert json.loads((rt.state_dir / CONTROL_DIR / "c.done").read_text())["error"].startswith("JSONDecodeError")
    assert control.handled == 3 and rt.state.state is State.READY


def test_press_every_measures_through_the_button(tmp_path):
    rt = make_runtime(tmp_path / "unit", {"sim": {"press_every_s": 0.3, "control": True}})
    white_reference(rt)
    place(rt, "pet")
    stop = threading.Event()
    loop = AcquisitionLoop(rt, stop=stop)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    control = start_sim_control(rt)
    try:
        assert isinstance(control, SimControl) and "every 0.3 s" in control.where
        deadline = time.monotonic() + 20
        while rt.journal.last_seq() < 3:
            assert time.monotonic() < deadline, "the timer's presses did not measure"
            time.sleep(0.05)
        assert _ask(rt, "stop", {"action": "press-every", "seconds": 0})["result"] == {"press_every_s": 0.0}
        time.sleep(0.5)  # a press already on its way may still measure
        settled = rt.journal.last_seq()
        time.sleep(1.0)
        assert rt.journal.last_seq() == settled
    finally:
        control.stop()
        stop.set()
        thread.join(10)
        rt.close()
    assert loop.button_measurements >= 3 and control.presses >= loop.button_measurements
