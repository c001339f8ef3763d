"""The real `SpiBus` backend over spidev (``/dev/spidev<bus>.<device>``).

spidev is imported lazily, here only; tests inject a stand-in ``library``. OS errors become
`SpiError`s naming the device node and the likely fix (SPI not enabled, user not in group
``spi``), because "[Errno 2] No such file or directory" alone does not tell an inspector's
technician what to do.
"""
from __future__ import annotations

import errno
from typing import Any

from ..errors import BackendUnavailable, SpiError
from .spi import SpiBus

ENABLE_SPI = ("enable SPI with `sudo raspi-config nonint do_spi 0` (or dtparam=spi=on in "
              "/boot/firmware/config.txt) and reboot")


def import_spidev() -> Any:
    try:
        import spidev as library
    except ImportError as exc:
        raise BackendUnavailable(
            f"spidev is not installed ({exc}): install the Pi extra with `pip install '.[pi]'`, "
            f"or use the simulator (--sim)") from None
    return library


class SpidevBus(SpiBus):
    """SPI through the Linux spidev driver; the chips' CS lines are GPIOs driven by the drivers."""

    def __init__(self, bus: int = 0, device: int = 0, *, max_speed_hz: int = 1_000_000, mode: int = 1,
                 library: Any = None) -> None:
        self.bus = bus
        self.device_index = device
        self.device = f"/dev/spidev{bus}.{device}"
        self.max_speed_hz = int(max_speed_hz)
        self.mode = int(mode)
        self._library = library
        self._spi: Any = None

    def _error(self, exc: OSError, action: str) -> SpiError:
        code = exc.errno
        if isinstance(exc, FileNotFoundError) or code == errno.ENOENT:
            return SpiError(f"{self.device}: no such device ({action}) — {ENABLE_SPI}")
        if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
            return SpiError(f"{self.device}: permission denied ({action}) — is the user in group spi? "
                            f"(`sudo usermod -aG spi $USER`, then log in again)")
        if code == errno.EBUSY:
            return SpiError(f"{self.device}: device busy ({action}) — another process or kernel driver "
                            f"(an overlay on SPI0?) holds it")
        return SpiError(f"{self.device}: {action} failed: {exc}")

    def open(self) -> None:
        if self._spi is not None:
            return
        library = import_spidev() if self._library is None else self._library
        spi = library.SpiDev()
        try:
            spi.open(self.bus, self.device_index)
        except OSError as exc:
            raise self._error(exc, "open") from None
        try:
            spi.mode = self.mode
            spi.max_speed_hz = self.max_speed_hz
            spi.bits_per_word = 8
        except (OSError, ValueError, TypeError) as exc:
            spi.close()
            if isinstance(exc, OSError):
                raise self._error(exc, f"set mode {self.mode} / {self.max_speed_hz} Hz") from None
            raise SpiError(f"{self.device}: cannot set mode {self.mode} / {self.max_speed_hz} Hz: {exc}") from None
        self._spi = spi

    def xfer(self, data: bytes) -> bytes:
        if self._spi is None:
            raise SpiError(f"{self.device}: transfer on a closed bus (call open() first)")
        try:
            return bytes(self._spi.xfer2(list(data)))
        except OSError as exc:
            raise self._error(exc, f"transfer of {len(data)} bytes") from None

    def close(self) -> None:
        spi, self._spi = self._spi, None
        if spi is not None:
            try:
                spi.close()
            except OSError:
                pass  # closing a node that vanished (USB/overlay removed) must not hide the real error
