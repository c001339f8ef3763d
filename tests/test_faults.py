"""Every injected fault surfaces as its named exception, and the self-test names the broken part."""
import pytest

from firmware.board import open_board, open_head
from firmware.errors import (AdcSaturation, ChipIdError, DacNotAnswering, DataLineStuck, DrdyTimeout,
                             LightSourceFailure)
from firmware.selftest import passed, run_selftest
from firmware.sim.faults import FAULTS

from hw_support import sim_config, sim_head

EXPECTED = {"drdy-stuck": (DrdyTimeout, r"DRDY timeout after 0\.5 s"),
            "miso-low": (DataLineStuck, "MISO stuck low"),
            "miso-high": (DataLineStuck, "MISO stuck high"),
            "wrong-id": (ChipIdError, "chip ID 1, expected 3"),
            "saturation": (AdcSaturation, "ADC saturated"),
            "lamp-failure": (LightSourceFailure, "gives no light"),
            "dac-dead": (DacNotAnswering, "DAC8532 not answering")}


def test_every_fault_is_covered():
    assert set(EXPECTED) == set(FAULTS)
    for name, (exc, _) in EXPECTED.items():
        assert FAULTS[name].exception is exc


@pytest.mark.parametrize("fault", sorted(EXPECTED))
@pytest.mark.parametrize("head_name", ["fpi", "led8"])
def test_fault_during_operation(head_name, fault):
    exc, match = EXPECTED[fault]
    with sim_head(head_name, sample="white") as (board, head):
        head.acquire()
        board.sim.inject(fault)
        if head_name == "led8" and fault == "dac-dead":
            # the led8 head does not use the DAC: it keeps measuring (the self-test reports the DAC)
            assert head.acquire().net.min() > 0
            return
        with pytest.raises(exc, match=match):
            head.acquire()
        board.sim.clear_faults()
        assert head.acquire().net.min() > 0          # the board recovers once the fault is gone


@pytest.mark.parametrize("fault", ["drdy-stuck", "miso-low", "miso-high", "wrong-id", "dac-dead"])
@pytest.mark.parametrize("head_name", ["fpi", "led8"])
def test_fault_at_power_up_stops_the_bring_up(head_name, fault):
    exc, match = EXPECTED[fault]
    config = sim_config(head_name, faults=[fault])
    with pytest.raises(exc, match=match):
        open_board(config)


@pytest.mark.parametrize("head_name", ["fpi", "led8"])
def test_selftest_passes_on_a_healthy_board(head_name):
    with sim_head(head_name, sample="empty") as (board, head):
        checks = run_selftest(board, head)
        assert [c.name for c in checks] == ["adc_id", "miso", "drdy", "dac", "temperature", "light"]
        assert all(c.ok is True for c in checks), [c for c in checks if not c.ok]
        assert passed(checks)
        rate = next(c for c in checks if c.name == "drdy").value
        assert rate == pytest.approx(1000, rel=0.1)
        assert board.sim.gpio.driven_level(board.hardware.lamp_pin) == 0


@pytest.mark.parametrize("head_name,fault,failing", [
    ("fpi", "drdy-stuck", {"drdy", "dac", "temperature", "light"}),
    ("fpi", "miso-low", {"miso", "dac", "temperature", "light"}),
    ("fpi", "miso-high", {"miso", "dac", "temperature", "light"}),
    ("fpi", "wrong-id", {"adc_id", "light"}),
    ("fpi", "saturation", {"light"}),
    ("fpi", "lamp-failure", {"light"}),
    ("fpi", "dac-dead", {"dac", "light"}),
    # led8 without a thermistor takes the board temperature, which needs no ADC
    ("led8", "drdy-stuck", {"drdy", "dac", "light"}),
    ("led8", "miso-low", {"miso", "dac", "light"}),
    ("led8", "lamp-failure", {"light"}),
    ("led8", "dac-dead", {"dac"}),
])
def test_selftest_names_the_broken_part(head_name, fault, failing):
    with sim_head(head_name, sample="empty") as (board, head):
        board.sim.inject(fault)
        checks = run_selftest(board, head)
    failed = {c.name for c in checks if c.ok is False}
    assert failed == failing, checks
    assert not passed(checks)
    for c in checks:
        if c.ok is False:
            assert c.message and c.limit


def test_selftest_skips_the_dac_without_loopback():
    with sim_head("fpi", hardware={"dac_loopback": False}) as (board, head):
        checks = run_selftest(board, head)
    dac = next(c for c in checks if c.name == "dac")
    assert dac.ok is None and "not checked" in dac.message and passed(checks)


def test_open_head_after_faulty_board_closed_releases_pins():
    config = sim_config("fpi")
    board = open_board(config)
    head = open_head(config, board)
    head.close()
    board.close()
    board.close()
    assert board.sim.gpio.driven_level(config.hardware.ads1256_cs) == 0   # released
