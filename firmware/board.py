"""The one place that builds the board and the head from config.

``open_board(config, *, backend=None) -> Board`` picks the backend explicitly — the
``backend`` argument (the CLI's ``--sim``), else config ``hardware.backend`` and the
``PLASTINIR_BACKEND`` environment variable (which must agree if both are set) — and fails
naming the three ways if none chose. It never falls back to the simulator: a device that cannot
reach its hardware must say so, not produce simulated results.

It then brings the board up the way the datasheets ask: SPI open, chip-select lines idle high,
DAC outputs to 0 V (the FPI's high-voltage stage off), ADS1256 hardware reset, stuck-line and
ID check, a first configuration with self-calibration, and (where the loopback is wired) a
read-back of DAC channel B, so a dead DAC stops the bring-up whatever head is mounted.

``open_head(config, board) -> OpticalHead`` builds the head named in ``head.name``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .chips.ads1256 import Ads1256
from .chips.dac8532 import Dac8532
from .config import DeviceConfig
from .config.hardware import HardwareSection
from .errors import ConfigError, DacNotAnswering, PlastiNIRError, SensorFault
from .heads import HEADS, OpticalHead
from .hw.clock import Clock, RealClock
from .hw.gpio import Gpio
from .hw.spi import SpiBus

if TYPE_CHECKING:
    from .sim.board import SimBoard

BACKEND_ENV = "PLASTINIR_BACKEND"
BACKENDS = ("real", "sim")
SOC_THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
#: DAC loopback tolerance: DAC gain/offset errors (±0.15 % FSR) plus the ADC's, with margin.
LOOPBACK_TOLERANCE_V = 0.05


def resolve_backend(config: DeviceConfig, backend: str | None = None) -> tuple[str, str]:
    """(backend, what chose it). An explicit ``backend`` wins; config and environment must agree."""
    if backend is not None:
        if backend not in BACKENDS:
            raise ConfigError(f"backend {backend!r}: must be one of {', '.join(BACKENDS)}")
        return backend, "command line"
    env = os.environ.get(BACKEND_ENV, "").strip() or None
    if env is not None and env not in BACKENDS:
        raise ConfigError(f"environment {BACKEND_ENV}={env!r}: must be one of {', '.join(BACKENDS)}")
    configured = config.hardware.backend
    if configured and env and configured != env:
        raise ConfigError(f"config hardware.backend = {configured!r} but environment {BACKEND_ENV}={env!r}: "
                          f"the two disagree; remove one")
    if configured:
        return configured, "config hardware.backend"
    if env:
        return env, f"environment {BACKEND_ENV}"
    raise ConfigError(f"no hardware backend chosen: set hardware.backend = \"real\" or \"sim\" in the config, "
                      f"or {BACKEND_ENV}=real|sim in the environment, or pass --sim; the device never guesses")


@dataclass
class Board:
    """The AD/DA board: buses, pins, clock and the two chip drivers.

    ``sim`` is the simulator's handle (`firmware.sim.board.SimBoard`) when the backend is
    ``sim``, else None. Not thread-safe: one acquisition at a time.
    """

    backend: str
    backend_source: str
    hardware: HardwareSection
    clock: Clock
    gpio: Gpio
    spi: SpiBus
    adc: Ads1256
    dac: Dac8532
    sim: "SimBoard | None" = None
    _loopback_values: list[float] = field(default_factory=lambda: [1.0, 2.5])
    _closed: bool = False

    @property
    def closed(self) -> bool:
        return self._closed

    def read_board_temperature_c(self) -> float:
        """The board's temperature estimate: the simulator's ambient, or the Pi's SoC sensor."""
        if self.sim is not None:
            return self.sim.temperature_c
        try:
            return int(SOC_THERMAL.read_text().strip()) / 1000.0
        except (OSError, ValueError) as exc:
            raise SensorFault(f"{SOC_THERMAL}: cannot read the board temperature ({exc})") from None

    def check_dac(self) -> tuple[float, float]:
        """Write DAC channel B and read it back through the loopback input; (set, read) volts.

        Alternates between two voltages, so a DAC frozen at its previous output fails too.
        `DacNotAnswering` if the readback is off by more than 50 mV. Leaves the ADC at PGA 1.
        """
        ain = self.hardware.loopback_ain
        if ain is None:
            raise ConfigError("hardware.dac_loopback = false: no loopback wired, the DAC cannot be verified")
        volts = self._loopback_values[0]
        self._loopback_values.reverse()
        self.adc.set_pga(1)
        set_v = self.dac.write_volts("B", volts)
        codes = self.adc.read_channel(ain, conversions=2)
        read_v = self.adc.to_volts(sum(codes) / len(codes), 1)
        if abs(read_v - set_v) > LOOPBACK_TOLERANCE_V:
            raise DacNotAnswering(f"DAC8532 not answering: channel B set to {set_v:.3f} V but the loopback on "
                                  f"AIN{ain} reads {read_v:.3f} V — check the DAC's CS (GPIO{self.hardware.dac8532_cs}), "
                                  f"its supply and the loopback jumper")
        return set_v, read_v

    def close(self) -> None:
        """DAC outputs to 0 V, release every pin, close the bus. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            try:
                self.dac.write_code("A", 0)
                self.dac.write_code("B", 0)
            except PlastiNIRError:
                pass  # a broken board must still release its pins and bus
        finally:
            try:
                self.gpio.cleanup()
            finally:
                self.spi.close()


def _build(config: DeviceConfig, backend: str, source: str) -> Board:
    hw = config.hardware
    sim = None
    if backend == "sim":
        from .sim.board import SimBoard
        sim = SimBoard(config)
        clock, gpio, spi = sim.clock, sim.gpio, sim.bus
    else:
        from .hw.gpio_rpi import RpiGpio
        from .hw.spi_spidev import SpidevBus
        clock = RealClock()
        gpio = RpiGpio()
        spi = SpidevBus(hw.spi_bus, hw.spi_device, max_speed_hz=hw.spi_speed_hz, mode=1)
    adc = Ads1256(bus=spi, gpio=gpio, clock=clock, cs_pin=hw.ads1256_cs, drdy_pin=hw.ads1256_drdy,
                  reset_pin=hw.ads1256_reset, vref_v=hw.adc_vref_v, fclkin_hz=hw.adc_clock_hz,
                  drdy_timeout_s=hw.drdy_timeout_s)
    dac = Dac8532(bus=spi, gpio=gpio, clock=clock, cs_pin=hw.dac8532_cs, vref_v=hw.dac_vref_v)
    return Board(backend, source, hw, clock, gpio, spi, adc, dac, sim)


def open_board(config: DeviceConfig | None = None, *, backend: str | None = None) -> Board:
    """Build and bring up the board; see the module docstring. Raises `ConfigError` (no or
    conflicting backend), `BackendUnavailable` / `SpiError` / `GpioError` (real backend not usable
    here, with the device path and fix), `DrdyTimeout`, `DataLineStuck`, `ChipIdError`,
    `DacNotAnswering`."""
    config = config if config is not None else DeviceConfig()
    name, source = resolve_backend(config, backend)
    board = _build(config, name, source)
    try:
        board.spi.open()
        board.adc.setup_pins()
        board.dac.setup_pins()
        board.dac.write_code("A", 0)       # high-voltage stage off before anything else
        board.dac.write_code("B", 0)
        board.adc.hardware_reset()
        board.adc.check_lines_and_id()
        board.adc.configure(pga=1, data_rate=1000, buffer=config.hardware.adc_buffer, acal=True)
        if config.hardware.loopback_ain is not None:
            board.check_dac()
            board.dac.write_code("B", 0)
    except BaseException:
        board.close()
        raise
    return board


def open_head(config: DeviceConfig, board: Board) -> OpticalHead:
    """The head named in ``config.head.name``, set up on ``board`` (light sources off)."""
    name = config.head.name
    cls = HEADS.get(name)
    if cls is None or not hasattr(cls, "from_config"):
        raise ConfigError(f"head.name = {name!r}: no head of that name can be built on the AD/DA board; "
                          f"registered: {', '.join(sorted(HEADS))}")
    if board.sim is not None and board.sim.head != name:
        raise ConfigError(f"head.name = {name!r}, but the simulated board was built with the {board.sim.head!r} "
                          f"head's optics; open the board and the head from the same config")
    return cls.from_config(config, board)
