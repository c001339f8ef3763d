"""The measurement pipeline with test-only stand-ins (tests/runtime_fakes.py) for the head and the
model. End-to-end tests with the register-level simulator and a real model package come with the
integration (issue 4, Proof)."""
import threading

import numpy as np
import pytest

from firmware.config import load_config
from firmware.errors import DeviceBusy, DrdyTimeout, NotReady, QualityRejection, RecordError
from firmware.identity import load_identity, start_boot
from firmware.journal import Journal
from firmware.measurement import Measurement
from firmware.model_slot import ActiveModel, ModelSlot
from firmware.optics import fpi_grid
from firmware.record import verify_record
from firmware.references import DARK, WHITE
from firmware.state import DeviceState, State
from runtime_fakes import NearestMeanModel, ScriptedHead, drdy_timeout

WL = fpi_grid()
# Two made-up but distinct reflectance shapes standing in for PET and PLA (test fixtures, not data).
PET = 0.55 + 0.12 * np.sin((WL - 1550) / 40.0)
PLA = 0.45 + 0.10 * np.cos((WL - 1550) / 25.0)


class Clock:
    def __init__(self):
        self.t = 1_800_000_000.0

    def __call__(self):
        return self.t


@pytest.fixture
def rig(tmp_path):
    head = ScriptedHead()
    journal = Journal.open(tmp_path)
    identity = load_identity(tmp_path)
    state = DeviceState()
    state.transition(State.SELF_TEST)
    state.transition(State.NEEDS_REFERENCE, "white reference needed: none taken yet for the fpi head")
    model = NearestMeanModel({"PET": PET, "PLA": PLA})
    slot = ModelSlot(ActiveModel(model, "fpi-test-v1", "1", "d" * 64, "fpi", WL))
    clock = Clock()
    m = Measurement(head=head, journal=journal, identity=identity, boot=start_boot(journal),
                    config=load_config(None), state=state, models=slot, clock_synced=lambda: True,
                    calibration_id=lambda: "cal-2026-001", clock=clock)
    m.clock_ = clock
    m.model_ = model
    yield m
    journal.close()


def white(m):
    m.head.put(0.99)  # the tile
    return m.take_reference(WHITE)


def test_no_reference_refused_and_nothing_journaled(rig):
    with pytest.raises(NotReady, match="cannot start measuring: white reference needed: none taken yet"):
        rig.measure({"sample_id": "S-1"})
    assert rig.journal.last_seq() == 0 and rig.head.acquired == 0


def test_reference_then_pet_identified(rig):
    ref = white(rig)
    assert rig.state.state is State.READY and ref.n_scans == 3 and ref.id is not None
    rig.head.put(PET)
    record = rig.measure({"sample_id": "S-1", "merchant": "Shop A"}, trigger="button", operator="insp-7")
    verify_record(record, rig.identity.public_key)
    assert record["verdict"] == "identified" and record["class"] == "PET" and record["degradable"] is False
    assert record["seq"] == 1 and record["unit"] == rig.identity.unit and record["boot_id"] == rig.boot.boot_id
    assert record["calibration_id"] == "cal-2026-001" and record["operator"] == "insp-7" and record["clock_synced"]
    assert record["model"] == {"name": "fpi-test-v1", "version": "1", "sha256": "d" * 64}
    np.testing.assert_allclose(record["spectrum"], PET, atol=2e-3)  # (lit−dark)/(white) × 0.99 recovers R
    assert len(record["raw"]["dark"]) == len(record["raw"]["lit"]) == WL.size
    assert {"acquire", "physical", "quality", "inference", "total"} <= set(record["timings_ms"])
    assert record["timings_ms"]["physical"] == pytest.approx(3 * 610.0)
    assert rig.journal.get(1) == record and rig.journal.depth() == 1
    snap = rig.state.snapshot()
    assert snap["state"] == "result" and snap["last_result"]["class"] == "PET"
    assert snap["last_result"]["sample_id"] == "S-1"
    assert rig.head.gain_resets >= 2


def test_pla_identified_and_degradable(rig):
    white(rig)
    rig.head.put(PLA)
    record = rig.measure()
    assert record["class"] == "PLA" and record["degradable"] is True
    assert record["composition"]["pla_wt_pct"] == {"value": 98.0, "uncertainty": 1.5, "unit": "wt%"}


@pytest.mark.parametrize("scene, code, sentence", [
    (0.03, "dark", "cannot identify black/dark samples by NIR"),
    (0.0, "empty", "no sample on the port"),
    ([PET, PET, PLA], "unstable", "the sample moved"),
])
def test_bad_samples_rejected_and_journaled_without_model(rig, scene, code, sentence):
    white(rig)
    rig.head.acquired = 0
    rig.head.put(scene)
    record = rig.measure({"sample_id": "S-bad"})
    assert record["verdict"] == "rejected" and record["reason"].startswith(f"{code}: ") and sentence in record["reason"]
    assert record["class"] is None and record["scores"] == {}
    assert rig.model_.calls == []  # the model never saw it
    verify_record(record, rig.identity.public_key)
    assert rig.journal.counts_by_reason() == {code: 1}


def test_saturated_sample_retried_once_at_lower_gain(rig):
    white(rig)
    rig.head.put(PET * 3.5)  # glossier than the tile: over full scale at PGA 64, fine at 32
    record = rig.measure()
    assert record["verdict"] != "rejected"  # the retry worked (the shape is PET's, the level is not)
    assert "retry_acquire" in record["timings_ms"]
    np.testing.assert_allclose(record["spectrum"], PET * 3.5, rtol=5e-3)  # gain ratio 32/64 applied
    assert rig.head.gain_index == 0  # gain restored for the next sample


def test_saturated_even_at_lowest_gain_rejected(rig):
    white(rig)
    rig.head.put(9.0)
    record = rig.measure()
    assert record["verdict"] == "rejected" and record["reason"].startswith("saturated: ")
    assert "of full scale" in record["reason"]
    assert rig.head.acquired == 3 + 3 + 3  # white, first try at PGA 64, one retry at 32 — never a third


def test_expired_and_warm_references_block(rig):
    white(rig)
    rig.clock_.t += 8 * 3600 + 60
    with pytest.raises(NotReady, match=r"white reference needed: it is 8.0 h old \(limit 8.0 h\)"):
        rig.measure()
    assert rig.state.state is State.NEEDS_REFERENCE and "8.0 h old" in rig.state.reason
    white(rig)
    rig.head.temperature_c += 3.5
    assert rig.refresh() and rig.state.state is State.NEEDS_REFERENCE
    assert "3.5 °C from the 25.0 °C" in rig.state.reason
    rig.head.temperature_c -= 3.5
    assert rig.refresh() and rig.state.state is State.READY
    assert rig.journal.last_seq() == 0


def test_white_reference_without_tile_refused(rig):
    rig.head.put(0.0)  # nothing on the port
    with pytest.raises(QualityRejection, match="white reading too weak on 61 of 61 channels"):
        rig.take_reference(WHITE)
    assert rig.references.latest(WHITE) is None
    assert rig.state.state is State.NEEDS_REFERENCE and rig.state.reason.startswith("white reference refused")


def test_white_reference_with_moving_tile_refused(rig):
    rig.head.put([np.full(WL.size, 0.99), np.full(WL.size, 0.99), np.full(WL.size, 0.7)])
    with pytest.raises(QualityRejection, match="tile moved or light unstable: scan 3 of 3 differs"):
        rig.take_reference(WHITE)
    assert rig.state.reason.startswith("white reference refused: tile moved or light unstable: scan 3 of 3")
    assert rig.state.reason.endswith("white reference needed: none taken yet for the fpi head")


def test_white_reference_saturated_at_every_gain_refused(rig):
    rig.head.put(9.0)
    with pytest.raises(QualityRejection, match=r"of full scale .*, even after lowering the gain"):
        rig.take_reference(WHITE)
    assert rig.head.gain_index == 0


def test_dark_reference_removes_stray_light(rig):
    rig.head.stray = 0.05  # 5 % of the lamp reflected inside the head whatever is on the port
    white(rig)
    rig.head.put(0.4)
    uncorrected = np.asarray(rig.measure()["spectrum"])
    np.testing.assert_allclose(uncorrected, 0.45 / 1.04 * 0.99, atol=2e-3)
    rig.head.put(0.0)  # port covered
    rig.take_reference(DARK)
    rig.head.put(0.4)
    corrected = np.asarray(rig.measure()["spectrum"])
    np.testing.assert_allclose(corrected, 0.4, atol=2e-3)
    assert rig.reference_status()["dark"]["channels"] == WL.size


def test_dark_reference_with_open_port_refused(rig):
    white(rig)
    rig.head.put(0.5)
    with pytest.raises(QualityRejection, match="cover the port"):
        rig.take_reference(DARK)
    assert rig.state.state is State.READY  # the white one is still fine


def test_hardware_fault_then_self_test(rig):
    white(rig)
    rig.head.fail_with = drdy_timeout()
    with pytest.raises(DrdyTimeout):
        rig.measure()
    assert rig.state.state is State.FAULT and "DRDY (GPIO17) stayed high" in rig.state.reason
    assert rig.journal.events(kind="fault")[0]["message"].startswith("measurement failed")
    assert rig.journal.last_seq() == 0
    with pytest.raises(NotReady, match="cannot start measuring: fault: ADS1256 DRDY"):
        rig.measure()
    with pytest.raises(DrdyTimeout):
        rig.self_test()
    rig.head.fail_with = None
    report = rig.self_test([lambda: "board ok"])
    assert report["channels"] == WL.size and report["<lambda>"] == "board ok"
    assert rig.state.state is State.READY


def test_trigger_while_measuring_refused(rig):
    white(rig)
    rig.head.put(PET)
    gate, inside = threading.Event(), threading.Event()
    original = rig.head.acquire

    def slow_acquire():
        inside.set()
        gate.wait(5)
        return original()

    rig.head.acquire = slow_acquire
    results = []
    worker = threading.Thread(target=lambda: results.append(rig.measure(trigger="button")))
    worker.start()
    try:
        assert inside.wait(5)
        with pytest.raises(DeviceBusy, match=r"device busy: measuring \(started by button"):
            rig.measure(trigger="mqtt")
        with pytest.raises(DeviceBusy):
            rig.take_reference(WHITE, trigger="page")
        assert rig.refresh() is False  # the periodic check never interrupts a measurement
    finally:
        gate.set()
        worker.join(10)
    assert results[0]["class"] == "PET" and rig.journal.last_seq() == 1


def test_bad_sample_tag_refused_before_anything_moves(rig):
    white(rig)
    before = rig.head.acquired
    with pytest.raises(RecordError, match="unknown field 'colour'"):
        rig.measure({"colour": "black"})
    assert rig.head.acquired == before and rig.state.state is State.READY


def test_model_for_other_head_or_missing_refused(rig):
    white(rig)
    rig.models.swap(ActiveModel(rig.model_, "led8-v1", "1", "e" * 64, "led8", np.array([940.0, 1050.0])))
    with pytest.raises(NotReady, match="model led8-v1 is for the led8 head, this unit has fpi"):
        rig.measure()
    assert ModelSlot().current() is None


def test_model_swap_takes_effect_on_next_measurement(rig):
    white(rig)
    rig.head.put(PET)
    first = rig.measure()
    old = rig.models.swap(ActiveModel(NearestMeanModel({"PET": PET}), "fpi-test-v2", "2", "f" * 64, "fpi", WL))
    assert old.name == "fpi-test-v1"
    second = rig.measure()
    assert (first["model"]["name"], second["model"]["name"]) == ("fpi-test-v1", "fpi-test-v2")
    assert second["seq"] == first["seq"] + 1


def test_model_on_coarser_grid_gets_resampled_spectrum(rig):
    white(rig)
    rig.head.put(PET)
    grid = WL[::2]
    rig.models.swap(ActiveModel(NearestMeanModel({"PET": PET[::2]}), "fpi-coarse", "1", "a" * 64, "fpi", grid))
    record = rig.measure()
    assert record["wavelengths_nm"] == list(grid) and record["class"] == "PET"
    rig.models.swap(ActiveModel(rig.model_, "fpi-wide", "1", "a" * 64, "fpi", np.arange(1500.0, 1900.0, 5.0)))
    with pytest.raises(NotReady, match="model fpi-wide cannot be used with this head"):
        rig.measure()
    assert rig.state.state is State.FAULT
