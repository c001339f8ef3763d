"""Power-on self-test of the board and the head: ``run_selftest(board, head) -> list[Check]``.

Each check is named, carries the measured value and its limit, and never stops the others: a
dead DRDY line fails ``drdy`` and whatever needs conversions, but the report still says which
parts work. ``ok`` is True (passed), False (failed) or None (could not be checked, e.g. no DAC
loopback wired); `passed` treats None as not failed.

Checks: ``adc_id`` (STATUS ID = 3), ``miso`` (register bytes not all 00h/FFh, a written MUX value
reads back), ``drdy`` (conversions arrive at the configured data rate), ``dac`` (channel B read
back through the loopback input), ``temperature`` (head temperature in a physical range),
``light`` (a full acquisition: lamp/every LED gives light, nothing saturates; run the self-test
with the port empty or on the white tile).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from .board import Board
from .chips import ads1256_regs as R
from .errors import ChipIdError, DataLineStuck, PlastiNIRError
from .heads import OpticalHead

#: Head temperatures outside this range mean a sensor fault or an unsafe environment (°C).
TEMPERATURE_RANGE_C = (-10.0, 60.0)
#: The measured conversion rate may fall short of DRATE by polling latency, never exceed it.
RATE_WINDOW = (0.5, 1.1)
_RATE_CONVERSIONS = 10


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    value: float | None
    limit: str
    message: str

    def to_json(self) -> dict:
        return asdict(self)


def passed(checks: list[Check]) -> bool:
    """True if no check failed (skipped checks, ``ok is None``, do not fail the self-test)."""
    return all(c.ok is not False for c in checks)


def _run(name: str, limit: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except PlastiNIRError as exc:
        return Check(name, False, None, limit, f"{type(exc).__name__}: {exc}")


def run_selftest(board: Board, head: OpticalHead) -> list[Check]:
    """Run every check in order; leaves light sources off and the ADC configured for the head."""
    adc = board.adc

    def adc_id() -> Check:
        try:
            chip_id = adc.check_lines_and_id()
        except DataLineStuck as exc:
            return Check("adc_id", None, None, "== 3", f"not judged: {exc}")
        except ChipIdError as exc:
            regs = adc.read_registers(R.STATUS, 1)
            return Check("adc_id", False, float(regs[0] >> 4), "== 3", str(exc))
        return Check("adc_id", True, float(chip_id), "== 3", "ADS1256 reports ID 3")

    def miso() -> Check:
        regs = adc.read_registers(R.STATUS, 4)
        if all(b == 0x00 for b in regs) or all(b == 0xFF for b in regs):
            adc.check_lines_and_id(regs)  # raises DataLineStuck naming the line
        original = regs[1]
        probe = 0x23 if original != 0x23 else 0x45
        adc.set_mux(probe >> 4, probe & 0x0F)
        back = adc.read_registers(R.MUX, 1)[0]
        adc.set_mux(original >> 4, original & 0x0F, force=True)
        if back != probe:
            return Check("miso", False, float(back), f"MUX reads back {probe:#04x}",
                         f"wrote MUX {probe:#04x}, read {back:#04x}: unreliable data line")
        return Check("miso", True, float(back), f"MUX reads back {probe:#04x}", "register write/read-back works")

    def drdy() -> Check:
        rate = adc.data_rate
        adc.read_channel(board.hardware.detector_ain)        # restart and settle
        t0 = board.clock.monotonic()
        for _ in range(_RATE_CONVERSIONS):
            adc.read_data()
        measured = _RATE_CONVERSIONS / (board.clock.monotonic() - t0)
        lo, hi = RATE_WINDOW
        ok = lo * rate <= measured <= hi * rate
        return Check("drdy", ok, measured, f"{lo * rate:g}–{hi * rate:g} SPS",
                     f"{measured:.0f} conversions/s at DRATE {rate:g} SPS")

    def dac() -> Check:
        if board.hardware.loopback_ain is None:
            return Check("dac", None, None, "<= 0.05 V", "not checked: hardware.dac_loopback = false (no loopback)")
        errors = [abs(r - s) for s, r in (board.check_dac(), board.check_dac())]
        board.dac.write_code("B", 0)
        return Check("dac", True, max(errors), "<= 0.05 V", "DAC8532 channel B follows both test voltages")

    def temperature() -> Check:
        t = head.read_temperature_c()
        lo, hi = TEMPERATURE_RANGE_C
        return Check("temperature", lo <= t <= hi, t, f"{lo:g}–{hi:g} °C", f"head at {t:.1f} °C")

    def light() -> Check:
        reading = head.acquire()
        net = reading.net.min() * reading.gain.get("lsb_v", 0.0)
        return Check("light", True, float(net), "every channel lit",
                     f"{reading.head}: every channel lit, weakest net signal {net * 1e3:.2f} mV")

    checks = [_run("adc_id", "== 3", adc_id), _run("miso", "MUX read-back", miso), _run("drdy", "DRDY rate", drdy),
              _run("dac", "<= 0.05 V", dac), _run("temperature", "°C range", temperature),
              _run("light", "every channel lit", light)]
    return checks
