"""Helpers for the hardware tests: simulated boards, bare chips on a simulated bus, spectra."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from firmware.board import open_board, open_head
from firmware.chips.ads1256 import Ads1256
from firmware.chips.dac8532 import Dac8532
from firmware.config import DeviceConfig
from firmware.hw.clock import SimClock
from firmware.sim.ads1256 import SimAds1256
from firmware.sim.dac8532 import SimDac8532
from firmware.sim.gpio import SimGpio
from firmware.sim.samples import WHITE_TILE_REFLECTANCE
from firmware.sim.spi import SimSpiBus
from firmware.spectra_csv import SpectraTable, write_spectra_csv

CS, DRDY, RESET, DAC_CS = 22, 17, 18, 23


def sim_config(head: str = "fpi", *, hardware: dict | None = None, head_settings: dict | None = None,
               **sim) -> DeviceConfig:
    sim.setdefault("seed", 7)
    data = {"hardware": {"backend": "sim", **(hardware or {})}, "head": {"name": head}, "sim": sim}
    if head_settings:
        data["head"][head] = head_settings
    return DeviceConfig.model_validate(data)


@contextmanager
def sim_head(head: str = "fpi", **kwargs):
    """(board, head) on a simulated board; both closed afterwards."""
    config = sim_config(head, **kwargs)
    board = open_board(config)
    try:
        h = open_head(config, board)
        try:
            yield board, h
        finally:
            h.close()
    finally:
        board.close()


class BareAdc:
    """An ADS1256 driver wired to a simulated chip whose inputs are fixed voltages."""

    def __init__(self, volts: dict[int, float] | None = None, *, speed: int = 1_000_000) -> None:
        self.volts = dict(volts or {})
        self.clock = SimClock()
        self.gpio = SimGpio(self.clock)
        self.bus = SimSpiBus(gpio=self.gpio, clock=self.clock, max_speed_hz=speed)
        self.chip = SimAds1256(clock=self.clock, analog=lambda ain, t, bw: self.volts.get(ain, 0.0),
                               rng=np.random.default_rng(0))
        self.chip.noise_v_1ksps = 0.0
        self.gpio.attach_driver(DRDY, self.chip)
        self.gpio.on_change(RESET, self.chip.reset_pin)
        self.bus.attach(self.chip, CS)
        self.dac_chip = SimDac8532()
        self.bus.attach(self.dac_chip, DAC_CS)
        self.adc = Ads1256(bus=self.bus, gpio=self.gpio, clock=self.clock)
        self.dac = Dac8532(bus=self.bus, gpio=self.gpio, clock=self.clock)
        self.bus.open()
        self.adc.setup_pins()
        self.dac.setup_pins()

    def select(self) -> None:
        self.gpio.write(CS, 0)

    def deselect(self) -> None:
        self.clock.sleep(2e-6)
        self.gpio.write(CS, 1)

    def raw(self, *data: int) -> bytes:
        return self.bus.xfer(bytes(data))


def synthetic_spectrum(wl: np.ndarray, seed: int = 3) -> np.ndarray:
    """A plastic-like reflectance (fraction): sloped baseline with a few absorption bands."""
    rng = np.random.default_rng(seed)
    r = 0.55 + 1e-4 * (wl - 1500)
    for centre, depth, width in ((1210, 0.08, 25), (1395, 0.06, 20), (1660, 0.12, 30), (1730, 0.2, 18),
                                 (1765, 0.1, 15)):
        r = r - depth * (1 + 0.2 * rng.standard_normal()) * np.exp(-0.5 * ((wl - centre) / width) ** 2)
    return r


def write_csv(path: Path, wl: np.ndarray, rows: np.ndarray, labels=("PP",)) -> Path:
    rows = np.atleast_2d(rows)
    table = SpectraTable(wl, rows, {"sample_id": [f"S{i}" for i in range(len(rows))],
                                     "label": [labels[i % len(labels)] for i in range(len(rows))]})
    write_spectra_csv(path, table)
    return path


def reflectance(sample, white, empty) -> np.ndarray:
    """Relative reflectance the way the device forms it: stray light (empty port) removed, white = 0.99."""
    return (sample.net - empty.net) / (white.net - empty.net) * WHITE_TILE_REFLECTANCE
