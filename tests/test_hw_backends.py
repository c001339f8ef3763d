"""The real backends fail cleanly off a Raspberry Pi and translate OS errors (path + fix)."""
import errno
import sys
import time

import pytest

from firmware.board import open_board
from firmware.errors import BackendUnavailable, GpioError, SpiError
from firmware.hw.clock import RealClock, SimClock
from firmware.hw.gpio_rpi import RpiGpio
from firmware.hw.spi_spidev import SpidevBus

from hw_support import sim_config


class FakeRpiGpio:
    """Stands in for the RPi.GPIO module (its API: constants, setmode, setup, output, input, cleanup)."""

    BCM, IN, OUT, HIGH, LOW, PUD_UP, PUD_OFF = 11, 1, 0, 1, 0, 22, 20

    def __init__(self, fail_setup: Exception | None = None) -> None:
        self.calls = []
        self.levels = {}
        self.fail_setup = fail_setup

    def setwarnings(self, flag):
        self.calls.append(("setwarnings", flag))

    def setmode(self, mode):
        self.calls.append(("setmode", mode))

    def setup(self, pin, direction, **kw):
        if self.fail_setup:
            raise self.fail_setup
        self.calls.append(("setup", pin, direction, kw))

    def output(self, pin, value):
        self.levels[pin] = value

    def input(self, pin):
        return self.levels.get(pin, 1)

    def cleanup(self, pins):
        self.calls.append(("cleanup", list(pins)))


def test_rpi_gpio_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "RPi", None)
    monkeypatch.delitem(sys.modules, "RPi.GPIO", raising=False)
    with pytest.raises(BackendUnavailable, match=r"RPi\.GPIO is not installed.*pip install '\.\[pi\]'.*rpi-lgpio"):
        RpiGpio()


def test_rpi_gpio_off_a_pi(monkeypatch, tmp_path):
    # the real RPi.GPIO raises RuntimeError at import on anything that is not a Raspberry Pi
    pkg = tmp_path / "RPi"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "GPIO.py").write_text("raise RuntimeError('This module can only be run on a Raspberry Pi!')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "RPi", raising=False)
    monkeypatch.delitem(sys.modules, "RPi.GPIO", raising=False)
    with pytest.raises(BackendUnavailable, match=r"only be run on a Raspberry Pi.*/dev/gpiomem.*group gpio"):
        RpiGpio()


def test_rpi_gpio_permission_and_pi5_errors():
    gpio = RpiGpio(library=FakeRpiGpio(RuntimeError("No access to /dev/mem.  Try running as root!")))
    with pytest.raises(GpioError, match=r"GPIO22 as output: /dev/gpiomem: permission denied.*group gpio"):
        gpio.setup_output(22)
    gpio = RpiGpio(library=FakeRpiGpio(RuntimeError("Cannot determine SOC peripheral base address")))
    with pytest.raises(GpioError, match="rpi-lgpio"):
        gpio.setup_input(17, pull_up=True)


def test_rpi_gpio_calls_the_library_in_bcm_mode():
    lib = FakeRpiGpio()
    gpio = RpiGpio(library=lib)
    gpio.setup_input(17, pull_up=True)
    gpio.setup_output(22, initial=1)
    gpio.write(22, 0)
    assert gpio.read(22) == 0 and gpio.read(17) == 1
    gpio.cleanup()
    assert lib.calls == [("setwarnings", False), ("setmode", lib.BCM),
                         ("setup", 17, lib.IN, {"pull_up_down": lib.PUD_UP}),
                         ("setup", 22, lib.OUT, {"initial": lib.HIGH}), ("cleanup", [17, 22])]
    with pytest.raises(GpioError, match="GPIO40: not a BCM pin"):
        gpio.setup_output(40)


class FakeSpiDev:
    fail: Exception | None = None

    def __init__(self):
        self.sent = []

    def open(self, bus, device):
        if FakeSpiDev.fail:
            raise FakeSpiDev.fail
        self.opened = (bus, device)

    def xfer2(self, data):
        self.sent.append(list(data))
        return [0xAB] * len(data)

    def close(self):
        self.closed = True


class FakeSpidevModule:
    SpiDev = FakeSpiDev


def test_spidev_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "spidev", None)
    with pytest.raises(BackendUnavailable, match=r"spidev is not installed.*pip install '\.\[pi\]'"):
        SpidevBus().open()


@pytest.mark.parametrize("exc,match", [
    (FileNotFoundError(errno.ENOENT, "No such file or directory"), r"/dev/spidev0\.0: no such device.*raspi-config"),
    (PermissionError(errno.EACCES, "Permission denied"), r"/dev/spidev0\.0: permission denied.*group spi"),
    (OSError(errno.EBUSY, "Device or resource busy"), r"/dev/spidev0\.0: device busy"),
])
def test_spidev_os_errors_name_the_device_and_fix(monkeypatch, exc, match):
    monkeypatch.setattr(FakeSpiDev, "fail", exc)
    with pytest.raises(SpiError, match=match):
        SpidevBus(0, 0, library=FakeSpidevModule).open()


def test_spidev_sets_mode_1_and_speed():
    bus = SpidevBus(0, 1, max_speed_hz=500_000, library=FakeSpidevModule)
    with pytest.raises(SpiError, match="closed bus"):
        bus.xfer(b"\x01")
    bus.open()
    assert bus.device == "/dev/spidev0.1"
    assert (bus._spi.mode, bus._spi.max_speed_hz, bus._spi.opened) == (1, 500_000, (0, 1))
    assert bus.xfer(b"\x01\x02") == b"\xab\xab"
    bus.close()
    bus.close()


def test_open_board_real_off_a_pi(monkeypatch):
    monkeypatch.setitem(sys.modules, "RPi", None)
    monkeypatch.delitem(sys.modules, "RPi.GPIO", raising=False)
    config = sim_config("fpi", hardware={"backend": "real"})
    with pytest.raises(BackendUnavailable, match="RPi.GPIO is not installed"):
        open_board(config)


def test_clocks():
    sim = SimClock()
    sim.sleep(0.25)
    sim.sleep(-1)
    assert sim.monotonic() == 0.25
    real = RealClock()
    t0, w0 = real.monotonic(), time.perf_counter()
    real.sleep(20e-6)                       # busy wait below the threshold
    assert real.monotonic() - t0 >= 20e-6 and time.perf_counter() - w0 >= 20e-6
