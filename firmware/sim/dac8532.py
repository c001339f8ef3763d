"""A simulated DAC8532 that decodes 24-bit frames like the real chip (TI SBAS246).

Frame: control byte (DB23–DB22 reserved 0, DB21 LD B, DB20 LD A, DB19 don't care, DB18 buffer
select, DB17–DB16 power-down mode), then 16 data bits MSB first. Data go into the selected
channel's buffer; LD A / LD B copy buffer A / B to the outputs. Outputs reset to zero scale.
A frame cut short by CS (SYNC) going high, longer than 24 bits, or with a reserved bit set raises
`ProtocolViolation`. With ``dead`` set (fault injection) the chip ignores every frame.
"""
from __future__ import annotations

from typing import Callable

from ..errors import ProtocolViolation

Listener = Callable[[str, float, float], None]


class SimDac8532:
    name = "DAC8532"
    #: data are latched on the falling SCLK edge: modes 1 (and 2) work
    spi_modes = (1, 2)
    #: "input data clock frequencies up to 30 MHz" (datasheet, Description)
    max_sclk_hz = 30e6

    def __init__(self, *, vref_v: float = 5.0) -> None:
        self.vref_v = vref_v
        self.dead = False
        self.frames = 0
        self.violations: list[str] = []
        self._buffer = {"A": (0, 0), "B": (0, 0)}     # (code, power-down mode)
        self._output = {"A": (0, 0), "B": (0, 0)}
        self._frame = bytearray()
        self._selected = False
        self._listeners: list[Listener] = []

    def on_output_change(self, listener: Listener) -> None:
        """Call ``listener(channel, volts, t)`` whenever an output changes."""
        self._listeners.append(listener)

    def output_v(self, channel: str) -> float:
        code, pd = self._output[channel]
        return 0.0 if pd else self.vref_v * code / 65536.0

    def set_dead(self, dead: bool, t: float) -> None:
        """Fault injection: a dead chip's outputs fall to 0 V and it ignores frames until revived."""
        if dead:
            for ch in ("A", "B"):
                self._buffer[ch] = (0, 0)
                if self._output[ch] != (0, 0):
                    self._output[ch] = (0, 0)
                    for listener in self._listeners:
                        listener(ch, 0.0, t)
        self.dead = dead

    def _violate(self, message: str) -> None:
        self._frame.clear()
        self.violations.append(message)
        raise ProtocolViolation(f"DAC8532 (simulated): {message}")

    def chip_select(self, selected: bool, t: float) -> None:
        if selected == self._selected:
            return
        self._selected = selected
        frame = bytes(self._frame)
        self._frame.clear()
        if not selected and 0 < len(frame) < 3:
            self._violate(f"SYNC (CS) raised after {8 * len(frame)} of 24 bits: the write was interrupted")

    def transfer(self, mosi: bytes, t_start: float, byte_time: float) -> bytes:
        for k, byte in enumerate(mosi):
            self._frame.append(byte)
            if len(self._frame) == 3:
                self._execute(bytes(self._frame), t_start + (k + 1) * byte_time)
            elif len(self._frame) > 3:
                self._violate("more than 24 bits in one frame (raise SYNC between writes)")
        return bytes(len(mosi))  # no data output: MISO is not driven

    def _execute(self, frame: bytes, t: float) -> None:
        control, code = frame[0], int.from_bytes(frame[1:], "big")
        if control & 0xC0:
            self._violate(f"control byte {control:02X}h sets reserved bits DB23/DB22 (must be 0)")
        self.frames += 1
        if self.dead:
            return
        channel = "B" if control & 0x04 else "A"
        self._buffer[channel] = (code, control & 0x03)
        for load_bit, ch in ((0x10, "A"), (0x20, "B")):
            if control & load_bit and self._output[ch] != self._buffer[ch]:
                self._output[ch] = self._buffer[ch]
                for listener in self._listeners:
                    listener(ch, self.output_v(ch), t)
