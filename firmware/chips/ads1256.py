"""TI ADS1256 24-bit ADC driver (SBAS288K), CS driven as a GPIO.

Everything goes through the datasheet's own command sequences so that the simulated chip
(``firmware.sim.ads1256``), which answers the same bytes, exercises the code a Pi runs:

* reset by the RESET pin or the RESET command, then wait for DRDY (the chip self-calibrates);
* ID check on STATUS[7:4] (3 for an ADS1256), with stuck-MISO detection first, because a
  stuck line would otherwise be misreported as a wrong chip;
* register access with WREG / RREG and the t6 wait before clocking out data;
* PGA, data rate and input multiplexer, SELFCAL, SYNC + WAKEUP;
* RDATA only after DRDY falls, with a timeout (`DrdyTimeout`);
* reading a channel = WREG MUX → SYNC → t11 → WAKEUP → DRDY → RDATA, so the value returned
  always belongs to the channel asked for; `scan` pipelines several channels with the
  datasheet's mux-cycling sequence (Figure 19) and attributes each result to the right input.

Every wait (t6, t10, t11, reset pulse, settling) goes through the injected `Clock`.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

from ..errors import ChipIdError, DataLineStuck, DrdyTimeout, HardwareError
from ..hw.clock import Clock
from ..hw.gpio import HIGH, LOW, Gpio
from ..hw.spi import SpiBus
from . import ads1256_regs as R

#: RESET pulse width. The datasheet asks for t16 >= 4 tCLKIN (0.52 µs); 10 µs gives margin
#: for a slow GPIO edge without costing anything measurable.
RESET_PULSE_S = 10e-6
#: Dummy byte clocked out while reading (DIN is ignored during RDATA/RREG output).
_DUMMY = 0xFF


class Ads1256:
    """One ADS1256 on an SPI bus whose CS, DRDY and RESET lines are GPIOs.

    Call `setup_pins` then `initialise` (the board does this). Not thread-safe.
    """

    def __init__(self, *, bus: SpiBus, gpio: Gpio, clock: Clock, cs_pin: int = 22, drdy_pin: int = 17,
                 reset_pin: int = 18, vref_v: float = 2.5, fclkin_hz: float = R.FCLKIN_HZ,
                 drdy_timeout_s: float = 0.5) -> None:
        self.bus = bus
        self.gpio = gpio
        self.clock = clock
        self.cs_pin = cs_pin
        self.drdy_pin = drdy_pin
        self.reset_pin = reset_pin
        self.vref_v = vref_v
        self.fclkin_hz = fclkin_hz
        self.drdy_timeout_s = drdy_timeout_s
        tclk = 1.0 / fclkin_hz
        self.t6 = R.T6_CLK * tclk
        self.t10 = R.T10_CLK * tclk
        self.t11_short = R.T11_SHORT_CLK * tclk
        self.t11_long = R.T11_LONG_CLK * tclk
        # scale the datasheet's 7.68 MHz tables if the board runs another crystal
        self._time_scale = R.FCLKIN_HZ / fclkin_hz
        self._shadow: dict[int, int] = {}
        self._set_reset_shadow()

    # --- pins and framing -------------------------------------------------------------------

    def setup_pins(self) -> None:
        """CS and RESET idle high; DRDY is an input with the pull-up on (it is open while reset)."""
        self.gpio.setup_output(self.cs_pin, initial=HIGH)
        self.gpio.setup_output(self.reset_pin, initial=HIGH)
        self.gpio.setup_input(self.drdy_pin, pull_up=True)

    def release_pins(self) -> None:
        self.gpio.cleanup([self.cs_pin, self.reset_pin, self.drdy_pin])

    @contextmanager
    def _selected(self) -> Iterator[None]:
        """CS low for one whole command (datasheet: CS must stay low for command + data)."""
        self.gpio.write(self.cs_pin, LOW)
        try:
            yield
        finally:
            self.clock.sleep(self.t10)  # t10: final SCLK edge to CS high
            self.gpio.write(self.cs_pin, HIGH)

    def command(self, cmd: int) -> None:
        """Send a one-byte command and wait the t11 that must follow it."""
        with self._selected():
            self.bus.xfer(bytes([cmd]))
        self.clock.sleep(self.t11_long if cmd in (R.SYNC, R.RDATAC) else self.t11_short)

    # --- timing tables -------------------------------------------------------------------------

    @property
    def data_rate(self) -> float:
        """Samples per second the DRATE register selects."""
        return R.DRATE_BY_CODE.get(self._shadow[R.DRATE], 30000)

    @property
    def pga(self) -> int:
        code = self._shadow[R.ADCON] & 0x07
        return 64 if code == 7 else 1 << code

    @property
    def acal(self) -> bool:
        return bool(self._shadow[R.STATUS] & R.STATUS_ACAL)

    def settling_s(self) -> float:
        """t18 for the current data rate (Table 13): SYNC/WAKEUP to the first settled DRDY."""
        return R.SETTLING_S[self.data_rate] * self._time_scale

    def calibration_s(self) -> float:
        """SELFCAL duration at the current data rate (Table 21, PGA 1)."""
        return R.SELFCAL_S[self.data_rate] * self._time_scale

    # --- DRDY -----------------------------------------------------------------------------------

    def wait_drdy(self, expected_s: float = 0.0) -> None:
        """Wait for DRDY low; `DrdyTimeout` if it stays high.

        The timeout is ``drdy_timeout_s`` (0.5 s by default) or twice the time the operation
        should take (a slow calibration), whichever is longer.
        """
        timeout = max(self.drdy_timeout_s, 2.0 * expected_s)
        if not self.gpio.wait_for(self.drdy_pin, LOW, timeout_s=timeout, clock=self.clock):
            raise DrdyTimeout(
                f"DRDY timeout after {timeout:g} s: the ADS1256's DRDY line (GPIO{self.drdy_pin}) stayed high "
                f"(expected a conversion within {expected_s * 1e3:.2f} ms) — check the board's power, "
                f"its 7.68 MHz clock and the DRDY wiring")

    # --- reset and identity ---------------------------------------------------------------------

    def _set_reset_shadow(self) -> None:
        self._shadow = dict(R.RESET_VALUES)
        self._shadow[R.STATUS] &= 0x0E  # the shadow holds only writable STATUS bits

    def hardware_reset(self) -> None:
        """Pulse RESET low (t16), then wait for the automatic self-calibration to end."""
        self.gpio.write(self.reset_pin, LOW)
        self.clock.sleep(RESET_PULSE_S)
        self.gpio.write(self.reset_pin, HIGH)
        self._set_reset_shadow()
        self.wait_drdy(self.calibration_s())

    def reset(self) -> None:
        """RESET command: registers to their defaults (except CLK bits), then self-calibration."""
        with self._selected():
            self.bus.xfer(bytes([R.RESET]))
        self._set_reset_shadow()
        self.wait_drdy(self.calibration_s())

    def read_registers(self, address: int, count: int) -> bytes:
        """RREG: ``count`` registers from ``address`` (auto-increment), t6 before the data."""
        if not (0 <= address < R.N_REGISTERS and 1 <= count <= R.N_REGISTERS - address):
            raise ValueError(f"ADS1256 RREG {count} register(s) from {address:#04x}: outside 00h–0Ah")
        with self._selected():
            self.bus.xfer(bytes([R.RREG | address, count - 1]))
            self.clock.sleep(self.t6)
            data = self.bus.xfer(bytes([_DUMMY] * count))
        self.clock.sleep(self.t11_short)
        return bytes(data)

    def write_registers(self, address: int, values: Sequence[int]) -> None:
        """WREG ``values`` from ``address``; waits for auto-calibration if ACAL makes one."""
        values = [int(v) & 0xFF for v in values]
        if not (0 <= address < R.N_REGISTERS and 1 <= len(values) <= R.N_REGISTERS - address):
            raise ValueError(f"ADS1256 WREG {len(values)} register(s) from {address:#04x}: outside 00h–0Ah")
        with self._selected():
            self.bus.xfer(bytes([R.WREG | address, len(values) - 1, *values]))
        self.clock.sleep(self.t11_short)
        touched = range(address, address + len(values))
        for reg, value in zip(touched, values):
            self._shadow[reg] = (value & 0x0E) if reg == R.STATUS else value
        if self.acal and any(r in touched for r in (R.STATUS, R.ADCON, R.DRATE)):
            # ACAL=1: the chip recalibrates after a write to STATUS (BUFEN), ADCON (PGA) or DRATE
            self.wait_drdy(self.calibration_s())

    def check_lines_and_id(self, regs: bytes | None = None) -> int:
        """Read STATUS..DRATE; raise `DataLineStuck` or `ChipIdError`; return the chip ID.

        MISO stuck low reads every register as 00h and stuck high as FFh; neither can be a
        real register set (DRATE resets to F0h, ADCON to 20h, and we never write 00h/FFh to
        both), so the stuck line is named before the ID is judged.
        """
        if regs is None:
            regs = self.read_registers(R.STATUS, 4)
        if all(b == 0x00 for b in regs):
            raise DataLineStuck(f"MISO stuck low: every byte read from the ADS1256 on {self.bus.device} "
                                f"(CS GPIO{self.cs_pin}) was 0x00 — check DOUT wiring and the board's power")
        if all(b == 0xFF for b in regs):
            raise DataLineStuck(f"MISO stuck high: every byte read from the ADS1256 on {self.bus.device} "
                                f"(CS GPIO{self.cs_pin}) was 0xFF — chip unpowered or not selected?")
        chip_id = regs[0] >> 4
        if chip_id != R.CHIP_ID:
            raise ChipIdError(f"ADS1256 ID check failed: STATUS register reads {regs[0]:#04x}, i.e. chip ID "
                              f"{chip_id}, expected {R.CHIP_ID} — wrong chip, wrong board, or a bus fault")
        return chip_id

    def verify(self) -> None:
        """Check lines and ID, then that MUX/ADCON/DRATE still hold what we wrote.

        Run before every acquisition: a chip that was reset by a supply glitch would otherwise
        silently convert at the wrong gain and rate.
        """
        regs = self.read_registers(R.STATUS, 4)
        self.check_lines_and_id(regs)
        expected = [self._shadow[R.STATUS], self._shadow[R.MUX], self._shadow[R.ADCON], self._shadow[R.DRATE]]
        got = [regs[0] & 0x0E, regs[1], regs[2], regs[3]]
        for name, want, have in zip(R.REGISTER_NAMES, expected, got):
            if want != have:
                raise HardwareError(f"ADS1256 register {name} reads {have:#04x} but {want:#04x} was written — "
                                    f"the chip was reset (supply glitch?) or the bus is unreliable")

    # --- configuration ---------------------------------------------------------------------------

    def configure(self, *, pga: int = 1, data_rate: float = 1000, positive: int = 0, negative: int = R.AINCOM,
                  buffer: bool = False, acal: bool = True) -> None:
        """Write STATUS, MUX, ADCON and DRATE in one WREG (as the Waveshare init does).

        With ``acal`` the chip self-calibrates now and after every later PGA or rate change;
        the datasheet says calibration must be redone when DRATE changes and should be when PGA
        or BUFEN change.
        """
        if pga not in R.PGA_CODES:
            raise ValueError(f"ADS1256 PGA {pga}: must be one of {R.PGA_STEPS}")
        if data_rate not in R.DRATE_CODES:
            raise ValueError(f"ADS1256 data rate {data_rate} SPS: must be one of {sorted(R.DRATE_CODES)}")
        status = (R.STATUS_ACAL if acal else 0) | (R.STATUS_BUFEN if buffer else 0)
        adcon = (self._shadow[R.ADCON] & 0xF8) | R.PGA_CODES[pga]
        self.write_registers(R.STATUS, [status, R.mux_byte(positive, negative), adcon, R.DRATE_CODES[data_rate]])
        if not acal:
            self.self_calibrate()

    def set_pga(self, pga: int) -> None:
        if pga not in R.PGA_CODES:
            raise ValueError(f"ADS1256 PGA {pga}: must be one of {R.PGA_STEPS}")
        if pga != self.pga:
            self.write_registers(R.ADCON, [(self._shadow[R.ADCON] & 0xF8) | R.PGA_CODES[pga]])

    def set_data_rate(self, sps: float) -> None:
        if sps not in R.DRATE_CODES:
            raise ValueError(f"ADS1256 data rate {sps} SPS: must be one of {sorted(R.DRATE_CODES)}")
        if R.DRATE_CODES[sps] != self._shadow[R.DRATE]:
            self.write_registers(R.DRATE, [R.DRATE_CODES[sps]])

    def set_mux(self, positive: int, negative: int = R.AINCOM, *, force: bool = False) -> None:
        value = R.mux_byte(positive, negative)
        if force or value != self._shadow[R.MUX]:
            self.write_registers(R.MUX, [value])

    def self_calibrate(self) -> None:
        """SELFCAL, then wait for DRDY (t11 after a calibration command is "until DRDY low")."""
        with self._selected():
            self.bus.xfer(bytes([R.SELFCAL]))
        self.wait_drdy(self.calibration_s())

    def sync_wakeup(self) -> None:
        """Restart conversion now: SYNC, t11 (24 tCLKIN), WAKEUP; settled data after t18."""
        self.command(R.SYNC)
        self.command(R.WAKEUP)

    # --- data --------------------------------------------------------------------------------

    def _rdata(self) -> int:
        with self._selected():
            self.bus.xfer(bytes([R.RDATA]))
            self.clock.sleep(self.t6)
            raw = self.bus.xfer(bytes([_DUMMY] * 3))
        self.clock.sleep(self.t11_short)
        return R.sign_extend_24(int.from_bytes(bytes(raw), "big"))

    def read_data(self) -> int:
        """Wait for DRDY, then RDATA: the newest conversion as a signed code."""
        self.wait_drdy(self.settling_s())
        return self._rdata()

    def read_channel(self, positive: int, negative: int = R.AINCOM, *, conversions: int = 1) -> list[int]:
        """``conversions`` settled codes of one input, never a leftover of the previous input.

        WREG MUX → SYNC → WAKEUP restarts the digital filter on the new input, so the first
        DRDY after t18 carries settled data of *this* channel (Table 13, single-cycle settling).
        """
        if conversions < 1:
            raise ValueError("conversions must be >= 1")
        self.set_mux(positive, negative)
        self.sync_wakeup()
        return [self.read_data() for _ in range(conversions)]

    def scan(self, channels: Sequence[int], negative: int = R.AINCOM) -> list[int]:
        """One settled code per input in ``channels``, pipelined (Figure 19, mux cycling).

        On each DRDY the next input is selected (WREG MUX, SYNC, WAKEUP) *before* RDATA, so the
        RDATA returns the conversion of the input selected one step earlier; the loop files it
        under that input.
        """
        if not channels:
            return []
        self.set_mux(channels[0], negative)
        self.sync_wakeup()
        codes = []
        for i in range(len(channels)):
            self.wait_drdy(self.settling_s())
            if i + 1 < len(channels):
                self.set_mux(channels[i + 1], negative, force=True)
                self.sync_wakeup()
            codes.append(self._rdata())  # conversion of channels[i]
        return codes

    def to_volts(self, code: float, pga: int | None = None) -> float:
        """Differential input voltage of a code at ``pga`` (default: the current PGA)."""
        return float(code) * R.lsb_volts(self.vref_v, pga or self.pga)

    def full_scale_v(self, pga: int | None = None) -> float:
        """Largest input the current PGA can convert: 2·VREF / PGA."""
        return 2.0 * self.vref_v / (pga or self.pga)
