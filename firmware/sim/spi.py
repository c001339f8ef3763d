"""Simulated SPI bus: bytes go to the chip whose CS GPIO is low; time passes as they are clocked.

Each transfer advances the simulated clock by its duration at the bus speed, so the physical
acquisition time the simulator reports includes the SPI traffic. The bus checks what the real
board cannot tolerate: no chip or two chips selected, a mode or speed the selected chip does not
support. A ``miso_stuck`` level models a stuck MISO line (fault injection).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import ProtocolViolation, SpiError
from ..hw.clock import SimClock
from ..hw.spi import SpiBus
from .gpio import SimGpio


class SimSpiChip(Protocol):
    name: str
    spi_modes: tuple[int, ...]
    max_sclk_hz: float

    def chip_select(self, selected: bool, t: float) -> None: ...

    def transfer(self, mosi: bytes, t_start: float, byte_time: float) -> bytes: ...


@dataclass(frozen=True)
class Transfer:
    """One recorded transfer (tests check byte-exact sequences against the datasheet)."""

    chip: str
    mosi: bytes
    miso: bytes
    t: float


class SimSpiBus(SpiBus):
    def __init__(self, *, gpio: SimGpio, clock: SimClock, bus: int = 0, device: int = 0,
                 max_speed_hz: int = 1_000_000, mode: int = 1) -> None:
        self.gpio = gpio
        self.clock = clock
        self.device = f"/dev/spidev{bus}.{device} (simulated)"
        self.max_speed_hz = int(max_speed_hz)
        self.mode = int(mode)
        self._chips: list[tuple[SimSpiChip, int]] = []
        self._open = False
        #: None, or 0x00 / 0xFF: every byte read back is that (MISO stuck low / high).
        self.miso_stuck: int | None = None
        #: Transfers are appended here while ``recording`` is on.
        self.recording = False
        self.log: list[Transfer] = []
        self.transfers = 0

    def attach(self, chip: SimSpiChip, cs_pin: int) -> None:
        self._chips.append((chip, cs_pin))
        self.gpio.on_change(cs_pin, lambda level, t, chip=chip, pin=cs_pin: chip.chip_select(self.gpio.drives_low(pin), t))

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False

    def xfer(self, data: bytes) -> bytes:
        data = bytes(data)
        if not self._open:
            raise SpiError(f"{self.device}: transfer on a closed bus (call open() first)")
        selected = [(c, pin) for c, pin in self._chips if self.gpio.drives_low(pin)]
        if not selected:
            raise ProtocolViolation(f"SPI transfer of {len(data)} byte(s) {data.hex(' ')} with no chip selected "
                                    f"(every CS GPIO is high)")
        if len(selected) > 1:
            names = ", ".join(f"{c.name} (CS GPIO{pin})" for c, pin in selected)
            raise ProtocolViolation(f"bus contention: several chips selected at once: {names}")
        chip, _ = selected[0]
        if self.mode not in chip.spi_modes:
            raise ProtocolViolation(f"{chip.name}: SPI mode {self.mode} not supported (needs mode "
                                    f"{' or '.join(map(str, chip.spi_modes))})")
        if self.max_speed_hz > chip.max_sclk_hz:
            raise ProtocolViolation(f"{chip.name}: SCLK {self.max_speed_hz} Hz above its limit "
                                    f"{chip.max_sclk_hz:.0f} Hz")
        byte_time = 8.0 / self.max_speed_hz
        t0 = self.clock.monotonic()
        miso = chip.transfer(data, t0, byte_time)
        self.clock.advance(len(data) * byte_time)
        if self.miso_stuck is not None:
            miso = bytes([self.miso_stuck]) * len(data)
        self.transfers += 1
        if self.recording:
            self.log.append(Transfer(chip.name, data, miso, t0))
        return miso
