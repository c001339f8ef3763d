"""A whole simulated AD/DA board with its optical head: what ``board.sim`` is.

Wiring follows the config exactly like the real board: the ADS1256's CS/DRDY/RESET and the
DAC8532's CS on their GPIOs, the detector on ``detector_ain``, the thermistor divider on
``thermistor_ain``, DAC channel B looped back to ``dac_loopback_ain``, the lamp or the LEDs on
their GPIOs. The drivers see only the simulated GPIO and SPI bus.

The public handle (what tests, the runtime and the calibration tools use):

``place(source, motion=0.0, *, package=None) -> SampleSpectrum``
    put a sample on the port (a `SampleSource` or a spec such as ``"white"``); every call is a
    new physical item. ``motion`` in [0, 1] makes the sample slide (see `Environment`).
``inject(name)`` / ``clear_faults()`` / ``active_faults``
    faults from ``firmware.sim.faults.FAULTS``.
``set_temperature(celsius)`` / ``set_drift(c_per_min)`` / ``temperature_c``
    the head's and the ambient temperature.
``set_noise_scale(scale)`` / ``noise_scale``
    every noise source × scale (a noisy detector for calibration tests; 1 = as built).
``wavelength_error_nm``, ``gain_error``
    the unit's errors (from config ``sim.*``).
``clock``
    the simulated clock (its ``monotonic()`` is the physical time).
``button``
    the trigger button on ``hardware.trigger_pin`` (`firmware.sim.button.SimButton`): ``press``,
    ``release``, ``click``, ``glitch``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..chips import ads1256_regs as R
from ..heads.fpi_table import load_fpi_table, table_path_for
from ..hw.clock import SimClock
from .ads1256 import SimAds1256
from .button import SimButton
from .dac8532 import SimDac8532
from .environment import Environment
from .faults import FAULTS
from .gpio import SimGpio
from .optics_model import DetectorModel, FpiDetector, Led8Detector
from .samples import SampleSource, SampleSpectrum, parse_sample
from .spi import SimSpiBus

if TYPE_CHECKING:
    from ..config import DeviceConfig

#: Read noise of the slow inputs (thermistor, loopback), V rms.
_SLOW_INPUT_NOISE_V = 20e-6


class SimBoard:
    def __init__(self, config: "DeviceConfig") -> None:
        hw, sc = config.hardware, config.sim
        self.config = config
        seeds = np.random.SeedSequence(sc.seed)
        adc_seed, optics_seed, env_seed, sample_seed, board_seed = seeds.spawn(5)
        self.rng = np.random.default_rng(sample_seed)
        self._noise = np.random.default_rng(board_seed)
        self._noise_scale = sc.noise_scale
        self.clock = SimClock(time_scale=sc.time_scale)
        self.gpio = SimGpio(self.clock)
        self.bus = SimSpiBus(gpio=self.gpio, clock=self.clock, bus=hw.spi_bus, device=hw.spi_device,
                             max_speed_hz=hw.spi_speed_hz)
        self.env = Environment(temperature_c=sc.temperature_c, drift_c_per_min=sc.drift_c_per_min,
                               rng=np.random.default_rng(env_seed), t0=self.clock.monotonic())
        self.dac = SimDac8532(vref_v=hw.dac_vref_v)
        self.head = config.head.name
        common = dict(clock=self.clock, env=self.env, rng=np.random.default_rng(optics_seed),
                      stray_reflectance=sc.stray_reflectance, gain_error=sc.gain_error,
                      wavelength_error_nm=sc.wavelength_error_nm, noise_scale=sc.noise_scale)
        self.detector: DetectorModel
        if self.head == "fpi":
            table = load_fpi_table(table_path_for(config, "sim"))
            self.detector = FpiDetector(table=table, hv_gain=config.head.fpi.hv_gain, dac=self.dac, **common)
            self.gpio.on_change(hw.lamp_pin, self.detector.on_lamp)
            self.dac.on_output_change(self.detector.on_dac)
        elif self.head == "led8":
            self.detector = Led8Detector(**common)
            for index, pin in enumerate(hw.led_pins):
                self.gpio.on_change(pin, self.detector.on_led(index))
        else:
            raise ValueError(f"the simulator has no optical model for head {self.head!r}")
        self.adc = SimAds1256(clock=self.clock, analog=self._analog, vref_v=hw.adc_vref_v,
                              fclkin_hz=hw.adc_clock_hz, rng=np.random.default_rng(adc_seed))
        self.gpio.attach_driver(hw.ads1256_drdy, self.adc)
        self.gpio.on_change(hw.ads1256_reset, self.adc.reset_pin)
        self.bus.attach(self.adc, hw.ads1256_cs)
        self.bus.attach(self.dac, hw.dac8532_cs)
        self.button = SimButton()
        self.gpio.attach_driver(hw.trigger_pin, self.button)
        self.faults: set[str] = set()
        self.item: SampleSpectrum | None = None
        self.place(sc.sample)
        for name in sc.faults:
            self.inject(name)

    # --- analog inputs of the ADS1256 ----------------------------------------------------------

    def _analog(self, ain: int, t: float, bandwidth_hz: float) -> float:
        hw = self.config.hardware
        if ain == R.AINCOM:
            return 0.0
        if ain == hw.detector_ain:
            return self.detector.voltage(t, bandwidth_hz)
        noise = _SLOW_INPUT_NOISE_V * self._noise_scale * float(self._noise.standard_normal())
        if ain == hw.thermistor_ain:
            return self.thermistor_v(self.env.temperature_c(t)) + noise
        if ain == hw.loopback_ain:
            return self.dac.output_v("B") + noise
        return noise  # an unconnected input sits near ground

    def thermistor_v(self, celsius: float) -> float:
        """Divider voltage: fixed resistor from VREF to the node, NTC from the node to ground."""
        fpi = self.config.head.fpi
        r_ntc = fpi.thermistor_r25_ohm * math.exp(fpi.thermistor_beta_k * (1 / (celsius + 273.15) - 1 / 298.15))
        return self.config.hardware.adc_vref_v * r_ntc / (fpi.thermistor_series_ohm + r_ntc)

    # --- the handle ------------------------------------------------------------------------------

    @property
    def wavelength_error_nm(self) -> float:
        return self.config.sim.wavelength_error_nm

    @property
    def gain_error(self) -> float:
        return self.config.sim.gain_error

    @property
    def temperature_c(self) -> float:
        return self.env.temperature_c(self.clock.monotonic())

    def set_temperature(self, celsius: float) -> None:
        self.env.set_temperature(celsius, self.clock.monotonic())

    def set_drift(self, c_per_min: float) -> None:
        self.env.set_drift(c_per_min, self.clock.monotonic())

    @property
    def noise_scale(self) -> float:
        return self._noise_scale

    def set_noise_scale(self, scale: float) -> None:
        """Multiply every noise source by ``scale`` from now on (a failing or repaired detector)."""
        if not 0.0 <= scale <= 1000.0:
            raise ValueError(f"noise scale {scale}: must be 0–1000")
        self._noise_scale = float(scale)
        self.detector.noise_scale = float(scale)

    def place(self, source: SampleSource | str, motion: float = 0.0, *, package: Any = None) -> SampleSpectrum:
        """Put a new item of ``source`` on the port; returns the drawn item (reflectance fractions)."""
        if isinstance(source, str):
            source = parse_sample(source, package)
        item = source.draw(self.rng)
        self.detector.check_item(item)
        self.env.place(source, item, motion)
        self.detector.set_item(item)
        self.item = item
        return item

    @property
    def active_faults(self) -> list[str]:
        return sorted(self.faults)

    def inject(self, name: str) -> None:
        """Activate a fault now (it stays until `clear_faults`)."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        FAULTS[name].apply(self)
        self.faults.add(name)

    def clear_faults(self) -> None:
        for name in sorted(self.faults):
            FAULTS[name].clear(self)
        self.faults.clear()

    # --- fault helpers (called by faults.py) ----------------------------------------------------

    def kill_light(self, dead: bool) -> None:
        t = self.clock.monotonic()
        det = self.detector
        if dead:
            if isinstance(det, FpiDetector):
                det.on_lamp(0, t)
            elif isinstance(det, Led8Detector):
                for i in list(det.on):
                    det.on_led(i)(0, t)
        det.light_dead = dead
        if not dead:  # a repaired lamp/LED follows its GPIO again
            hw = self.config.hardware
            if isinstance(det, FpiDetector):
                det.on_lamp(self.gpio.driven_level(hw.lamp_pin), t)
            elif isinstance(det, Led8Detector):
                for i, pin in enumerate(hw.led_pins):
                    det.on_led(i)(self.gpio.driven_level(pin), t)

    def kill_dac(self, dead: bool) -> None:
        self.dac.set_dead(dead, self.clock.monotonic())
