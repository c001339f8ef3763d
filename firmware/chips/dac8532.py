"""TI DAC8532 dual 16-bit DAC driver (SBAS246), CS (the chip's SYNC pin) driven as a GPIO.

A write is one 24-bit frame: a control byte, then the code MSB first. Control byte bits
(datasheet "Input Shift Register"): DB23–DB22 reserved (0), DB21 LD B, DB20 LD A, DB19 don't
care, DB18 buffer select (0 = A, 1 = B), DB17–DB16 PD1/PD0 (power-down mode, 00 = normal).

We use 0x10 (write buffer A, load DAC A) and 0x24 (write buffer B, load DAC B) so each write
updates only its own channel; the Waveshare code's 0x30/0x34 also reload the other channel from
its buffer, which is harmless but hides which channel a frame was meant for.

The DAC has no data output, so it cannot be read back over SPI; the board verifies it through a
loopback of channel B into a spare ADS1256 input (see ``firmware.selftest``).
"""
from __future__ import annotations

from ..hw.clock import Clock
from ..hw.gpio import HIGH, LOW, Gpio
from ..hw.spi import SpiBus

CONTROL = {"A": 0x10, "B": 0x24}
#: Power-down modes (PD1, PD0): output to GND through 1 kΩ, 100 kΩ, or high impedance.
POWER_DOWN = {"1k": 0x01, "100k": 0x02, "hi-z": 0x03}
FULL_CODE = 0xFFFF
#: Output settling to ±0.003 % FSR (datasheet, "Settling time", typ. 8 µs, max 10 µs).
SETTLING_S = 10e-6


class Dac8532:
    """Both channels of one DAC8532; ``vref_v`` is the board's reference (5.0 V on the Waveshare)."""

    def __init__(self, *, bus: SpiBus, gpio: Gpio, clock: Clock, cs_pin: int = 23, vref_v: float = 5.0) -> None:
        self.bus = bus
        self.gpio = gpio
        self.clock = clock
        self.cs_pin = cs_pin
        self.vref_v = vref_v
        #: last code written per channel (the chip cannot be read back)
        self.codes: dict[str, int] = {"A": 0, "B": 0}

    def setup_pins(self) -> None:
        self.gpio.setup_output(self.cs_pin, initial=HIGH)

    def release_pins(self) -> None:
        self.gpio.cleanup([self.cs_pin])

    def _frame(self, control: int, code: int) -> None:
        self.gpio.write(self.cs_pin, LOW)
        try:
            self.bus.xfer(bytes([control, (code >> 8) & 0xFF, code & 0xFF]))
        finally:
            self.gpio.write(self.cs_pin, HIGH)

    @staticmethod
    def _channel(channel: str) -> str:
        ch = str(channel).upper()
        if ch not in CONTROL:
            raise ValueError(f"DAC8532 channel {channel!r}: must be 'A' or 'B'")
        return ch

    def write_code(self, channel: str, code: int) -> None:
        """Load ``code`` (0–65535) into ``channel`` and wait for the output to settle."""
        ch = self._channel(channel)
        if not (0 <= int(code) <= FULL_CODE):
            raise ValueError(f"DAC8532 code {code}: must be 0–{FULL_CODE}")
        self._frame(CONTROL[ch], int(code))
        self.codes[ch] = int(code)
        self.clock.sleep(SETTLING_S)

    def code_for_volts(self, volts: float) -> int:
        """Nearest code for ``volts``; Vout = VREF · code / 65536 (datasheet "DAC Section")."""
        if not (0.0 <= volts <= self.vref_v):
            raise ValueError(f"DAC8532 output {volts:.4f} V outside 0–{self.vref_v:g} V (VREF)")
        return min(FULL_CODE, int(round(volts / self.vref_v * 65536)))

    def volts_for_code(self, code: int) -> float:
        return self.vref_v * int(code) / 65536.0

    def write_volts(self, channel: str, volts: float) -> float:
        """Set ``channel`` to the code nearest ``volts``; returns the voltage actually set."""
        code = self.code_for_volts(volts)
        self.write_code(channel, code)
        return self.volts_for_code(code)

    def power_down(self, channel: str, mode: str = "hi-z") -> None:
        """Power a channel down (its output through 1 kΩ / 100 kΩ to GND, or high impedance)."""
        ch = self._channel(channel)
        if mode not in POWER_DOWN:
            raise ValueError(f"DAC8532 power-down mode {mode!r}: one of {', '.join(POWER_DOWN)}")
        self._frame(CONTROL[ch] | POWER_DOWN[mode], 0)
        self.codes[ch] = 0
