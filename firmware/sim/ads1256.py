"""A simulated ADS1256 that answers the datasheet's command bytes (TI SBAS288K).

It holds the eleven registers with their reset values, decodes the serial stream byte by byte
with the time each byte is clocked, converts its analog inputs on a schedule set by DRATE and
the settling table, drives DRDY accordingly, and raises `ProtocolViolation` for sequences the
datasheet forbids or that betray a driver bug:

* RDATA with no new conversion since the last read (DRDY high); the one exception is the
  datasheet's mux cycling (Figure 19), where RDATA follows SYNC/WAKEUP and returns the
  conversion that finished before the SYNC, still unread;
* data clocked out sooner than t6 after RDATA/RDATAC/RREG, a command sooner than t11 after
  the previous one (SYNC→WAKEUP needs 24 tCLKIN), CS raised sooner than t10 after the last bit;
* RREG/WREG or another command during RDATAC (only SDATAC and RESET are heard there);
* any command while a calibration or reset is running (t11 there is "wait for DRDY low");
* undefined command bytes, registers beyond 0Ah, DRATE codes outside Table 19;
* CS raised in the middle of a command.

Time is lazy: nothing is scheduled; every access first brings the chip up to the caller's time.
Not modelled: RDATAC's DRDY-synchronous output timing, the data-update DRDY pulse when a
result is left unread, SCLK-held-low interface reset, and the IO pins' electrical function.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..chips import ads1256_regs as R
from ..errors import ProtocolViolation
from ..hw.clock import Clock
from ..hw.gpio import HIGH, LOW

#: analog(input 0–7 or 8 = AINCOM, time, noise bandwidth Hz) -> volts against AGND
AnalogInputs = Callable[[int, float, float], float]

#: Input-referred ADC noise at 1000 SPS (V rms); it scales with sqrt(data rate). The order of
#: the datasheet's noise tables for PGA 1 at that rate; our signals are millivolts and more.
ADC_NOISE_V_1KSPS = 2.0e-6
#: Timing checks allow 1 ns of float rounding (simulated time runs for hours; the shortest
#: datasheet wait is 0.52 µs).
_EPS = 1e-9
#: Absolute input limit with the input buffer on (AVDD − 2 V, "Analog Inputs").
BUFFER_MAX_V = 3.0

class SimAds1256:
    """The chip. ``analog`` gives the voltage on each input; ``rng`` draws conversion noise."""

    name = "ADS1256"
    spi_modes = (1,)

    def __init__(self, *, clock: Clock, analog: AnalogInputs, vref_v: float = 2.5,
                 fclkin_hz: float = R.FCLKIN_HZ, rng: np.random.Generator | None = None) -> None:
        self.clock = clock
        self.analog = analog
        self.vref_v = vref_v
        self.tclk = 1.0 / fclkin_hz
        self.max_sclk_hz = fclkin_hz / R.SCLK_DIVIDER
        self._scale = R.FCLKIN_HZ / fclkin_hz
        self.rng = rng if rng is not None else np.random.default_rng()
        #: input-referred noise at 1000 SPS (V rms); tests set 0 for exact codes
        self.noise_v_1ksps = ADC_NOISE_V_1KSPS
        # faults
        self.drdy_stuck = False
        self.id_override: int | None = None
        # record of every violation (also raised)
        self.violations: list[str] = []
        self.conversions = 0
        self.regs = bytearray(R.N_REGISTERS)
        self._selected = False
        self._reset_held = False
        self._rdatac = False
        self._rdatac_index = 0
        self._phase: tuple | None = None
        self._last_cmd_end = -math.inf
        self._t11_needed = 0.0
        self._prev_cmd = "power-up"
        self._last_byte_end = -math.inf
        self._bytes_this_select = 0
        self._power_on(clock.monotonic())

    # --- state machine of the converter ----------------------------------------------------------

    def _defaults(self, keep_clk: bool) -> None:
        clk = self.regs[R.ADCON] & 0x60
        for reg, value in R.RESET_VALUES.items():
            self.regs[reg] = value
        if keep_clk:
            self.regs[R.ADCON] = (self.regs[R.ADCON] & 0x9F) | clk

    def _power_on(self, t: float) -> None:
        self._defaults(keep_clk=False)
        self._data = 0
        self._data_unread = False
        self._drdy_hold = True
        self._running = True
        self._standby = False
        self._next_conv: float | None = None
        self._step: tuple[float, int] | None = None
        self._start_calibration(t)

    @property
    def data_rate(self) -> float:
        return R.DRATE_BY_CODE.get(self.regs[R.DRATE], 30000)

    @property
    def period(self) -> float:
        return self._scale / self.data_rate

    @property
    def pga(self) -> int:
        code = self.regs[R.ADCON] & 0x07
        return 64 if code == 7 else 1 << code

    def _start_calibration(self, t: float) -> None:
        # calibration "must"/"should" follow reset, DRATE/PGA/BUFEN changes; DRDY high until done
        self._cal_until = t + R.SELFCAL_S[self.data_rate] * self._scale
        self._drdy_hold = True
        self._data_unread = False
        self._running = True
        self._step = None

    def _finish_calibration(self) -> None:
        offset = int(self.rng.integers(-40, 41)) & 0xFFFFFF
        fsc = R.ideal_fsc(self.data_rate) + int(self.rng.integers(-2000, 2001))
        self.regs[R.OFC0:R.OFC2 + 1] = offset.to_bytes(3, "little")
        self.regs[R.FSC0:R.FSC2 + 1] = fsc.to_bytes(3, "little")

    def _advance(self, now: float) -> None:
        if self._reset_held:
            return
        if self._cal_until is not None:
            if now < self._cal_until:
                return
            t = self._cal_until
            self._cal_until = None
            self._finish_calibration()
            self._complete(t)                       # DRDY falls when calibration ends, data settled
            self._next_conv = t + self.period
        if self._running and self._next_conv is not None and now >= self._next_conv:
            k = math.floor((now - self._next_conv) / self.period)
            t_last = self._next_conv + k * self.period
            self._complete(t_last)                  # unread older results were overwritten anyway
            self._next_conv = t_last + self.period

    def _input_v(self, mux: int, t: float, bandwidth: float) -> float:
        p, n = mux >> 4, mux & 0x0F
        p = R.AINCOM if p >= 8 else p
        n = R.AINCOM if n >= 8 else n
        vp, vn = self.analog(p, t, bandwidth), self.analog(n, t, bandwidth)
        if self.regs[R.STATUS] & R.STATUS_BUFEN:
            vp, vn = min(max(vp, 0.0), BUFFER_MAX_V), min(max(vn, 0.0), BUFFER_MAX_V)
        return vp - vn

    def _complete(self, t: float) -> None:
        bandwidth = 0.5 * self.data_rate / self._scale
        v = self._input_v(self.regs[R.MUX], t, bandwidth)
        if self._step is not None:
            # input changed without SYNC: results inside the filter's window mix old and new (Table 15)
            t_change, old_mux = self._step
            window = R.STEP_SETTLE_PERIODS.get(self.data_rate, 1) * self.period
            if t - t_change < window:
                frac_new = (t - t_change) / window
                v = frac_new * v + (1.0 - frac_new) * self._input_v(old_mux, t, bandwidth)
            else:
                self._step = None
        if self.noise_v_1ksps:
            v += self.rng.normal(0.0, self.noise_v_1ksps * math.sqrt(self.data_rate / 1000.0))
        code = round(v / R.lsb_volts(self.vref_v, self.pga))
        self._data = max(R.MIN_CODE, min(R.FULL_SCALE_CODE, code))
        self._data_unread = True
        self._drdy_hold = False
        self.conversions += 1

    # --- DRDY pin (a PinDriver for the simulated GPIO) ----------------------------------------------

    def level(self, t: float) -> int:
        if self.drdy_stuck or self._reset_held:
            return HIGH
        self._advance(t)
        return LOW if (self._data_unread and not self._drdy_hold) else HIGH

    def next_time_at(self, level: int, t: float) -> float | None:
        if self.level(t) == level:
            return t
        if level == HIGH or self.drdy_stuck or self._reset_held:
            return None  # DRDY stays low until the data are read
        if self._cal_until is not None:
            return self._cal_until
        return self._next_conv if self._running else None

    # --- pins ---------------------------------------------------------------------------------------

    def reset_pin(self, level: int, t: float) -> None:
        """RESET low holds the chip in reset; the rising edge restores every register
        (CLK bits included) and starts the automatic self-calibration."""
        if level == LOW:
            self._reset_held = True
            self._phase = None
            self._rdatac = False
        elif self._reset_held:
            self._reset_held = False
            self._power_on(t)

    def chip_select(self, selected: bool, t: float) -> None:
        if selected == self._selected:
            return
        self._selected = selected
        if selected:
            self._bytes_this_select = 0
            return
        # CS high resets the serial interface
        phase, self._phase = self._phase, None
        if self._bytes_this_select and t - self._last_byte_end < R.T10_CLK * self.tclk - _EPS:
            self._violate(f"t10 violated: CS raised {(t - self._last_byte_end) * 1e9:.0f} ns after the last "
                          f"SCLK edge, needs >= {R.T10_CLK * self.tclk * 1e9:.0f} ns")
        if phase is not None:
            self._violate(f"CS raised in the middle of {phase[0]} (the command was aborted)")

    # --- serial interface -----------------------------------------------------------------------

    def _violate(self, message: str) -> None:
        self._phase = None
        self.violations.append(message)
        raise ProtocolViolation(f"ADS1256 (simulated): {message}")

    def transfer(self, mosi: bytes, t_start: float, byte_time: float) -> bytes:
        out = bytearray()
        for k, byte in enumerate(mosi):
            ts = t_start + k * byte_time
            te = ts + byte_time
            if self._reset_held:
                out.append(0xFF)  # DOUT is high-impedance in reset; the line floats high
                continue
            self._advance(ts)
            out.append(self._byte(byte, ts, te))
            self._last_byte_end = te
            self._bytes_this_select += 1
        return bytes(out)

    def _end_command(self, name: str, te: float, t11: float) -> None:
        self._prev_cmd = name
        self._last_cmd_end = te
        self._t11_needed = t11

    def _byte(self, b: int, ts: float, te: float) -> int:
        phase = self._phase
        if phase is None:
            if self._rdatac:
                return self._rdatac_byte(b, ts, te)
            return self._command(b, ts, te)
        kind = phase[0]
        if kind in ("RREG", "WREG") and len(phase) == 2:
            if b & 0xF0:
                self._violate(f"{kind} second byte {b:02X}h: upper nibble must be 0 (0000 nnnn)")
            address, count = phase[1], (b & 0x0F) + 1
            if address + count > R.N_REGISTERS:
                self._violate(f"{kind} of {count} register(s) from {address:X}h runs past the last register 0Ah")
            if kind == "RREG":
                data = bytes(self._register_value(r, ts) for r in range(address, address + count))
                self._phase = ("RREG", data, te, 0)
            else:
                self._phase = ("WREG", address, count, bytearray())
            return 0x00
        if kind == "WREG":
            _, address, count, buffer = phase
            buffer.append(b)
            if len(buffer) == count:
                self._phase = None
                self._end_command("WREG", te, R.T11_SHORT_CLK * self.tclk)
                self._apply_wreg(address, bytes(buffer), te)
            return 0x00
        # output phase of RDATA / RDATAC / RREG: ("RDATA", data, t_command_end, index)
        _, data, t_cmd_end, index = phase
        if index == 0 and ts - t_cmd_end < R.T6_CLK * self.tclk - _EPS:
            self._violate(f"t6 violated: data clocked {(ts - t_cmd_end) * 1e6:.2f} µs after {kind}, "
                          f"needs >= {R.T6_CLK * self.tclk * 1e6:.2f} µs")
        value = data[index]
        index += 1
        if index < len(data):
            self._phase = (kind, data, t_cmd_end, index)
            return value
        self._phase = None
        if kind in ("RDATA", "RDATAC"):
            self._data_unread = False       # DRDY returns high once all 24 bits are read
            self._drdy_hold = True
        if kind == "RDATAC":
            self._rdatac = True
            self._rdatac_index = 0
            self._end_command("RDATAC", te, R.T11_LONG_CLK * self.tclk)
        else:
            self._end_command(kind, te, R.T11_SHORT_CLK * self.tclk)
        return value

    def _register_value(self, reg: int, t: float) -> int:
        value = self.regs[reg]
        if reg == R.STATUS:
            chip_id = R.CHIP_ID if self.id_override is None else self.id_override
            value = (chip_id << 4) | (value & 0x0E) | (1 if self.level(t) == HIGH else 0)
        return value

    def _command(self, b: int, ts: float, te: float) -> int:
        gap = ts - self._last_cmd_end
        if gap < self._t11_needed - _EPS:
            self._violate(f"t11 violated: {R.command_name(b)} sent {gap * 1e6:.2f} µs after {self._prev_cmd}, "
                          f"needs >= {self._t11_needed * 1e6:.2f} µs")
        if self._cal_until is not None and ts < self._cal_until and b != R.RESET:
            self._violate(f"{R.command_name(b)} sent during calibration/reset (after {self._prev_cmd}, "
                          f"t11 is 'wait for DRDY low')")
        short, long_ = R.T11_SHORT_CLK * self.tclk, R.T11_LONG_CLK * self.tclk
        high = b & 0xF0
        if high == R.RREG:
            self._phase = ("RREG", b & 0x0F)
        elif high == R.WREG:
            self._phase = ("WREG", b & 0x0F)
        elif b in (R.WAKEUP, R.WAKEUP_ALT):
            if not self._running or self._standby:
                # conversion restarts on the first CLKIN after the WAKEUP's first SCLK
                self._running, self._standby, self._step = True, False, None
                self._next_conv = ts + R.SETTLING_S[self.data_rate] * self._scale
            self._end_command("WAKEUP", te, 0.0)
        elif b in (R.RDATA, R.RDATAC):
            if not self._data_unread:
                self._violate(f"{R.command_name(b)} while DRDY is high: no new conversion since the last read "
                              f"(wait for DRDY low)")
            self._phase = (R.command_name(b), R.encode_24(self._data), te, 0)
        elif b == R.SDATAC:
            self._end_command("SDATAC", te, short)
        elif b in R.CALIBRATIONS:
            self._start_calibration(te)
            self._end_command(R.command_name(b), te, 0.0)
        elif b == R.SYNC:
            self._running, self._drdy_hold, self._next_conv = False, True, None
            self._end_command("SYNC", te, long_)
        elif b == R.STANDBY:
            self._running, self._standby, self._drdy_hold, self._next_conv = False, True, True, None
            self._end_command("STANDBY", te, short)
        elif b == R.RESET:
            self._reset_command(te)
        else:
            self._violate(f"undefined command byte {b:02X}h (Table 24 lists every command)")
        return 0x00

    def _reset_command(self, te: float) -> None:
        self._defaults(keep_clk=True)       # the CLK bits survive a RESET command
        self._rdatac = False
        self._phase = None
        self._start_calibration(te)
        self._end_command("RESET", te, 0.0)

    def _rdatac_byte(self, b: int, ts: float, te: float) -> int:
        """In RDATAC the chip shifts out data and listens only for SDATAC and RESET."""
        if b == R.SDATAC:
            self._rdatac = False
            self._end_command("SDATAC", te, R.T11_SHORT_CLK * self.tclk)
            return 0x00
        if b == R.RESET:
            self._reset_command(te)
            return 0x00
        if b & 0xF0 in (R.RREG, R.WREG):
            self._violate(f"{R.command_name(b)} during RDATAC: issue SDATAC (0Fh) first")
        if b not in (0x00, 0xFF):
            self._violate(f"{R.command_name(b)} during RDATAC is ignored by the chip (only SDATAC and RESET)")
        if self._rdatac_index == 0 and not self._data_unread:
            self._violate("RDATAC read while DRDY is high: wait for DRDY low before clocking the next result")
        value = R.encode_24(self._data)[self._rdatac_index]
        self._rdatac_index = (self._rdatac_index + 1) % 3
        if self._rdatac_index == 0:
            self._data_unread, self._drdy_hold = False, True
        return value

    def _apply_wreg(self, address: int, values: bytes, t: float) -> None:
        touched = range(address, address + len(values))
        for reg, value in zip(touched, values):
            if reg == R.STATUS:
                self.regs[reg] = (self.regs[reg] & 0xF1) | (value & 0x0E)   # ID and DRDY are read-only
            elif reg == R.DRATE:
                if value not in R.DRATE_BY_CODE:
                    self._violate(f"DRATE code {value:02X}h is not in Table 19 (datasheet: unpredictable)")
                self.regs[reg] = value
                if self._running and self._next_conv is not None:
                    self._next_conv = t + self.period
            elif reg == R.MUX:
                if value != self.regs[reg] and self._running:
                    self._step = (t, self.regs[reg])
                self.regs[reg] = value
            else:
                self.regs[reg] = value
        if self.regs[R.STATUS] & R.STATUS_ACAL and any(r in touched for r in (R.STATUS, R.ADCON, R.DRATE)):
            self._start_calibration(t)
            self._prev_cmd = "WREG (auto-calibration)"
