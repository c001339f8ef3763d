"""The `SpiBus` interface: one SPI device node, full-duplex byte transfers.

A backend must override `open`, `xfer` and `close` and set ``device`` (what error messages
name, e.g. ``/dev/spidev0.0``), ``mode`` and ``max_speed_hz``. Chip selects are *not* the
bus's business: on the AD/DA board both chips' CS lines are plain GPIOs that the drivers drive,
so a transfer goes to whichever chip the driver has selected.
"""
from __future__ import annotations

from abc import ABC, abstractmethod


class SpiBus(ABC):
    """A full-duplex SPI bus. Not thread-safe: one acquisition uses the board at a time."""

    device: str = "spi"
    mode: int = 1
    max_speed_hz: int = 1_000_000

    @abstractmethod
    def open(self) -> None:
        """Claim the bus and apply ``mode`` and ``max_speed_hz``."""

    @abstractmethod
    def xfer(self, data: bytes) -> bytes:
        """Clock ``data`` out on MOSI and return the same number of bytes read on MISO."""

    @abstractmethod
    def close(self) -> None:
        """Release the bus; closing twice is harmless."""

    def __enter__(self) -> "SpiBus":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
