"""The real `Gpio` backend over the RPi.GPIO API (BCM numbering).

RPi.GPIO is imported lazily, here only, so nothing else in PlastiNIR needs it; on a Pi 5 the
drop-in ``rpi-lgpio`` package provides the same module. Tests inject a stand-in ``library``.
The library reports problems as bare ``RuntimeError``s with terse texts; they are translated
into `BackendUnavailable` / `GpioError` that say which device node is involved and the fix.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import BackendUnavailable, GpioError
from .gpio import HIGH, LOW, Gpio, check_pin

GPIO_DEVICE = "/dev/gpiomem"

_FIX = (f"check that this is a Raspberry Pi and that the user may open {GPIO_DEVICE} "
        f"(is the user in group gpio? `sudo usermod -aG gpio $USER`, then log in again)")


def import_rpi_gpio() -> Any:
    """Import RPi.GPIO, translating its failures into `BackendUnavailable`."""
    try:
        import RPi.GPIO as library  # noqa: N813 (the module's own name)
    except ImportError as exc:
        raise BackendUnavailable(
            f"RPi.GPIO is not installed ({exc}): install the Pi extra with `pip install '.[pi]'` "
            f"(on a Raspberry Pi 5: `pip install rpi-lgpio`), or use the simulator (--sim)") from None
    except RuntimeError as exc:
        raise BackendUnavailable(f"RPi.GPIO cannot run here: {exc} — {_FIX}") from None
    return library


def _translate(exc: Exception, what: str) -> GpioError:
    text = str(exc)
    if "SOC peripheral base address" in text:
        return GpioError(f"{what}: {text} — on a Raspberry Pi 5 replace RPi.GPIO by rpi-lgpio "
                         f"(`pip uninstall RPi.GPIO; pip install rpi-lgpio`)")
    if "/dev/mem" in text or "/dev/gpiomem" in text or isinstance(exc, PermissionError):
        return GpioError(f"{what}: {GPIO_DEVICE}: permission denied ({text}) — is the user in group gpio?")
    return GpioError(f"{what}: {text}")


class RpiGpio(Gpio):
    """GPIO through RPi.GPIO. ``library`` defaults to the real module (imported here, lazily)."""

    def __init__(self, *, library: Any = None) -> None:
        self._lib = import_rpi_gpio() if library is None else library
        self._pins: set[int] = set()
        try:
            self._lib.setwarnings(False)
            self._lib.setmode(self._lib.BCM)
        except (RuntimeError, OSError, ValueError) as exc:
            raise _translate(exc, "RPi.GPIO setmode(BCM)") from None

    def setup_input(self, pin: int, *, pull_up: bool = False) -> None:
        check_pin(pin)
        pud = self._lib.PUD_UP if pull_up else self._lib.PUD_OFF
        try:
            self._lib.setup(pin, self._lib.IN, pull_up_down=pud)
        except (RuntimeError, OSError, ValueError) as exc:
            raise _translate(exc, f"GPIO{pin} as input") from None
        self._pins.add(pin)

    def setup_output(self, pin: int, *, initial: int = LOW) -> None:
        check_pin(pin)
        try:
            self._lib.setup(pin, self._lib.OUT, initial=self._lib.HIGH if initial else self._lib.LOW)
        except (RuntimeError, OSError, ValueError) as exc:
            raise _translate(exc, f"GPIO{pin} as output") from None
        self._pins.add(pin)

    def write(self, pin: int, value: int) -> None:
        try:
            self._lib.output(pin, self._lib.HIGH if value else self._lib.LOW)
        except (RuntimeError, OSError, ValueError) as exc:
            raise _translate(exc, f"GPIO{pin} write") from None

    def read(self, pin: int) -> int:
        try:
            return HIGH if self._lib.input(pin) else LOW
        except (RuntimeError, OSError, ValueError) as exc:
            raise _translate(exc, f"GPIO{pin} read") from None

    def cleanup(self, pins: Iterable[int] | None = None) -> None:
        chosen = sorted(self._pins if pins is None else set(pins) & self._pins)
        if not chosen:
            return
        try:
            self._lib.cleanup(chosen)
        except (RuntimeError, OSError, ValueError) as exc:
            raise _translate(exc, f"GPIO cleanup {chosen}") from None
        self._pins.difference_update(chosen)
