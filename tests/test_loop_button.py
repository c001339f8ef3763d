"""The trigger button (software debounce) and the acquisition loop of ``nir-device run``:
one measurement per press, bounce and spikes ignored, a press while measuring refused with the
reason, periodic reference checks, watchdog pings only while nothing hangs."""
import threading
import time
from types import SimpleNamespace

import pytest

from firmware.config import load_config
from firmware.hw.gpio import HIGH, LOW, Gpio
from firmware.loop import AcquisitionLoop
from firmware.state import DeviceState, State
from firmware.trigger import Button

from device_support import make_runtime, place, white_reference


class ScriptedLine(Gpio):
    """One input whose level the test sets; time is the test's own clock."""

    def __init__(self, level=HIGH):
        self.level, self.pull_up = level, None

    def setup_input(self, pin, *, pull_up=False):
        self.pull_up = pull_up

    def setup_output(self, pin, *, initial=LOW):
        raise AssertionError("the button pin is an input")

    def write(self, pin, value):
        raise AssertionError("the button pin is an input")

    def read(self, pin):
        return self.level

    def cleanup(self, pins=None):
        pass


def feed(button, line, clock, script, step=0.002):
    """Play ``[(duration_s, level), …]`` polling every ``step``; returns the times presses counted."""
    presses = []
    for duration, level in script:
        line.level = level
        end = clock[0] + duration
        while clock[0] < end:
            if button.poll():
                presses.append(round(clock[0], 4))
            clock[0] += step
    return presses


@pytest.fixture
def button():
    clock = [0.0]
    line = ScriptedLine()
    return Button(line, 27, debounce_s=0.03, clock=lambda: clock[0]), line, clock


def test_one_press_per_bouncy_press_and_release(button):
    btn, line, clock = button
    assert line.pull_up is True  # active low against the internal pull-up
    bounce = [(0.001, LOW), (0.001, HIGH)] * 4
    presses = feed(btn, line, clock, bounce + [(0.2, LOW)] + bounce + [(0.2, HIGH)] + bounce + [(0.2, LOW)])
    assert len(presses) == 2 and btn.presses == 2
    # counted once the line has been low for the debounce time, not at the first bounce
    assert presses[0] >= 0.008 + 0.03


def test_spikes_shorter_than_the_debounce_are_ignored(button):
    btn, line, clock = button
    assert feed(btn, line, clock, [(0.02, LOW), (0.1, HIGH)] * 5) == []


def test_a_button_held_at_start_is_not_a_press(button):
    clock = [0.0]
    line = ScriptedLine(LOW)
    btn = Button(line, 27, debounce_s=0.03, clock=lambda: clock[0])
    assert btn.pressed and feed(btn, line, clock, [(0.5, LOW)]) == []
    assert len(feed(btn, line, clock, [(0.1, HIGH), (0.1, LOW)])) == 1


@pytest.fixture
def running(tmp_path):
    """A unit with a white reference and its loop running in a thread (sim at 1/10 real time)."""
    rt = make_runtime(tmp_path / "state", {"runtime": {"refresh_interval_s": 0.5}})
    white_reference(rt)
    rt.board.sim.clock.time_scale = 0.1  # from now on: a measurement takes ~1 s, long enough to press into
    place(rt, "pla")
    heard = {"result": [], "refused": []}
    rt.on_result(heard["result"].append)
    rt.on_refused(heard["refused"].append)
    loop = AcquisitionLoop(rt)
    thread = threading.Thread(target=loop.run)
    thread.start()
    yield rt, loop, heard
    loop.stop.set()
    thread.join(30)
    rt.close()


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_button_press_measures_once_and_a_press_while_busy_is_refused(running):
    rt, loop, heard = running
    rt.board.sim.button.click(hold_s=0.08, bounce_s=0.006)
    wait_until(lambda: rt.state.state is State.MEASURING)
    time.sleep(0.06)  # released for longer than the debounce: the next press is a new one
    rt.board.sim.button.click(hold_s=0.08)  # during the measurement (~1 s at time_scale 0.1)
    wait_until(lambda: heard["result"] and heard["refused"])
    wait_until(lambda: rt.state.state is State.RESULT)
    assert len(heard["result"]) == 1 and heard["result"][0]["class"] == "PLA"
    assert heard["refused"][0]["trigger"] == "button" and heard["refused"][0]["reason"].startswith("device busy")
    rt.board.sim.button.glitch(0.005)  # interference on the cable
    time.sleep(0.2)
    assert len(heard["result"]) == 1 and loop.button_measurements == 1 and loop.button_refusals == 1


def test_loop_rearms_the_button_after_a_self_test_reopened_the_board(running):
    rt, loop, heard = running
    rt.board.sim.inject("drdy-stuck")
    rt.board.sim.button.click(hold_s=0.06)
    wait_until(lambda: rt.state.state is State.FAULT)
    assert not heard["result"] and "DRDY timeout" in rt.state.reason
    rt.self_test(trigger="test")  # a new simulated board, a new button
    place(rt, "pla")
    wait_until(lambda: loop._generation == rt.hardware_generation)
    rt.board.sim.button.click(hold_s=0.06)
    wait_until(lambda: heard["result"])
    assert heard["result"][0]["class"] == "PLA"


def test_loop_notices_an_expired_reference_while_idle(running):
    rt, loop, heard = running
    rt.board.sim.set_temperature(30.0)
    wait_until(lambda: rt.state.state is State.NEEDS_REFERENCE)
    assert "5.0 °C from the 25.0 °C" in rt.state.reason


class Pings:
    def __init__(self):
        self.count = 0

    def ping(self, force=False):
        self.count += 1
        return True


def test_watchdog_pings_stop_while_an_activity_hangs():
    now = [1000.0]
    state = DeviceState(clock=lambda: now[0])
    state.transition(State.SELF_TEST)
    state.transition(State.READY)
    rt = SimpleNamespace(state=state, config=load_config(None, {"runtime": {"max_activity_s": 60}}),
                         watchdog=Pings())
    loop = AcquisitionLoop(rt)
    loop._watchdog()
    state.begin(State.MEASURING, "page")
    now[0] += 59
    loop._watchdog()
    assert rt.watchdog.count == 2  # a long measurement is not a hang yet
    now[0] += 2
    loop._watchdog()
    loop._watchdog()
    assert rt.watchdog.count == 2  # hung past max_activity_s: systemd will restart the service
    state.transition(State.FAULT, "fault: stuck")
    loop._watchdog()
    assert rt.watchdog.count == 3  # a fault is not a hang: the page must stay up to show it
