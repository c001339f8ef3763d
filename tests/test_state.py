import threading

import pytest

from firmware.errors import DeviceBusy, InvalidTransition, NotReady
from firmware.state import TRANSITIONS, DeviceState, State


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def ready_state(clock=None):
    s = DeviceState(clock=clock or Clock())
    s.transition(State.SELF_TEST)
    s.transition(State.READY)
    return s


def test_boot_path_and_reasons():
    s = DeviceState()
    assert s.state is State.BOOTING and s.snapshot()["reason"] == "starting"
    s.transition(State.SELF_TEST)
    s.transition(State.NEEDS_REFERENCE, "white reference needed: none taken yet for the fpi head")
    snap = s.snapshot()
    assert snap["state"] == "needs_reference" and snap["reason"].startswith("white reference needed")
    assert not snap["can_measure"] and [h["to"] for h in snap["history"]] == ["self_test", "needs_reference"]


def test_disallowed_transitions_refused():
    s = DeviceState()
    with pytest.raises(InvalidTransition, match="booting → measuring is not allowed"):
        s.transition(State.MEASURING)
    s.transition(State.FAULT, "fault: SPI /dev/spidev0.0 missing")
    with pytest.raises(InvalidTransition, match="fault → ready"):
        s.transition(State.READY)  # a fault is left only through a new self-test
    with pytest.raises(InvalidTransition, match="needs a reason"):
        DeviceState().transition(State.FAULT)


def test_every_state_reachable_and_leavable():
    reachable = {State.BOOTING}
    frontier = [State.BOOTING]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(State)
    assert all(TRANSITIONS[s] for s in State)


def test_trigger_while_measuring_refused_with_reason():
    clock = Clock()
    s = ready_state(clock)
    s.begin(State.MEASURING, "button")
    clock.t += 1.5
    with pytest.raises(DeviceBusy, match=r"device busy: measuring \(started by button 1.5 s ago\); measuring refused"):
        s.begin(State.MEASURING, "mqtt")
    with pytest.raises(DeviceBusy, match="referencing refused"):
        s.begin(State.REFERENCING, "page")
    assert s.snapshot()["trigger"] == "button" and s.snapshot()["busy"]


def test_not_ready_states_refuse_with_their_reason():
    s = DeviceState()
    s.transition(State.SELF_TEST)
    s.transition(State.NEEDS_REFERENCE, "white reference needed: it is 9.1 h old (limit 8.0 h)")
    with pytest.raises(NotReady, match=r"cannot start measuring: white reference needed: it is 9.1 h old"):
        s.begin(State.MEASURING, "cli")
    s.begin(State.REFERENCING, "cli")  # ... but a reference may be taken
    s.transition(State.READY)
    s.begin(State.MEASURING, "cli")
    s.record_result({"seq": 1, "verdict": "identified", "class": "PET"})
    snap = s.snapshot()
    assert snap["state"] == "result" and snap["last_result"]["class"] == "PET" and snap["counts"] == {"identified": 1}
    s.begin(State.MEASURING, "cli")  # result → measuring again
    with pytest.raises(ValueError, match="not an activity"):
        s.begin(State.READY, "cli")


def test_only_one_of_many_concurrent_triggers_starts():
    s = ready_state()
    barrier = threading.Barrier(8)
    outcomes = []

    def trigger(i):
        barrier.wait()
        try:
            s.begin(State.MEASURING, f"t{i}")
            outcomes.append("started")
        except DeviceBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=trigger, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy"] * 7 + ["started"]


def test_activity_context_goes_to_fault_on_error():
    s = ready_state()
    with pytest.raises(OSError):
        with s.activity(State.MEASURING, "cli"):
            raise OSError("DRDY timeout on GPIO17")
    assert s.state is State.FAULT and s.reason == "fault: DRDY timeout on GPIO17"
    s.begin(State.SELF_TEST, "technician")  # the way out of a fault
    s.transition(State.READY)
    with pytest.raises(InvalidTransition, match="ended without choosing"):
        with s.activity(State.MEASURING, "cli"):
            pass


def test_settle_only_from_idle():
    s = ready_state()
    assert s.settle(False, "white reference needed: expired")
    assert not s.settle(False, "white reference needed: expired")  # no change, no notification
    assert s.settle(True) and s.state is State.READY
    s.begin(State.MEASURING, "cli")
    assert not s.settle(False, "white reference needed: expired") and s.state is State.MEASURING


def test_listeners_get_snapshots_and_cannot_break_the_machine():
    s = DeviceState()
    seen = []
    unsubscribe = s.subscribe(lambda snap: seen.append(snap["state"]))
    s.subscribe(lambda snap: 1 / 0)
    s.transition(State.SELF_TEST)
    unsubscribe()
    s.transition(State.READY)
    assert seen == ["self_test"] and s.state is State.READY
