"""From the sample on the port to volts on ADS1256 AIN0: the simulated head's optics and detector.

photocurrent = white photocurrent · source level · Σ R_eff(λ) w(λ) / max_c Σ w_c(λ)

where ``w`` are the channel weights of ``firmware.optics`` (source × filter line shape × InGaAs
responsivity: exactly the weights the training toolchain uses), R_eff is what the port shows
(coverage · sample + the head's stray light) and the white photocurrent is what a perfect white
gives in the brightest channel. The transimpedance amplifier turns photocurrent plus dark
current into volts, adds its offset, rails at 4.9 V, and settles after every step with a time
constant. Noise per conversion: photon shot noise, the feedback resistor's Johnson noise.

Temperature acts where it does on real parts: InGaAs dark current doubles every 10 °C, the
amplifier offset drifts, LEDs dim (−0.5 %/°C) and their peaks move (+0.3 nm/°C), typical for
InGaAsP LEDs; the FPI passband moves as the unit's coefficient table says.

Per-unit errors: the FPI transmits λ+e when the device asks for λ; the LED peaks sit e nm off;
the unit's white tile reflects 0.99/(1+g) while the device assumes 0.99.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import optics
from ..errors import SampleSourceError
from ..heads.fpi_table import INVERT_MARGIN_NM, FpiTable
from ..hw.clock import Clock
from .dac8532 import SimDac8532
from .environment import Environment
from .samples import SampleSpectrum

_Q = 1.602176634e-19       # elementary charge (C)
_K_B = 1.380649e-23        # Boltzmann constant (J/K)
_FINE_STEP_NM = 0.5


@dataclass(frozen=True)
class Electronics:
    """Detector and transimpedance amplifier of one head."""

    white_photocurrent_a: float
    tia_ohm: float
    dark_current_a: float          # at 25 °C
    offset_v: float                # amplifier output offset at 25 °C
    offset_drift_v_per_c: float
    settle_tau_s: float            # amplifier time constant
    rail_v: float = 4.9


#: fpi: extended InGaAs (2.1 µm cutoff, higher dark current), 10 MΩ: white ≈ 0.9 V at the peak.
FPI_ELECTRONICS = Electronics(90e-9, 10e6, 2e-9, 2e-3, 20e-6, 0.1e-3)
#: led8: standard InGaAs photodiode, 1 MΩ: white ≈ 1.8 V with the brightest LED.
LED8_ELECTRONICS = Electronics(1.8e-6, 1e6, 0.3e-9, 2e-3, 20e-6, 50e-6)
LAMP_WARMUP_TAU_S = 0.06       # small halogen filament heating
LAMP_COOLDOWN_TAU_S = 0.02
FPI_STEP_TAU_S = 0.3e-3        # MEMS mirror after a tuning step
LED_SHIFT_NM_PER_C = 0.3
LED_POWER_PER_C = -0.005


class _Lamp:
    """First-order filament: brightness approaches on/off with its heating/cooling constant."""

    def __init__(self) -> None:
        self.on = False
        self._t = -math.inf
        self._level0 = 0.0

    def level(self, t: float) -> float:
        dt = max(t - self._t, 0.0)
        if self.on:
            return 1.0 - (1.0 - self._level0) * math.exp(-dt / LAMP_WARMUP_TAU_S)
        return self._level0 * math.exp(-dt / LAMP_COOLDOWN_TAU_S) if self._level0 else 0.0

    def switch(self, on: bool, t: float) -> None:
        self._level0 = self.level(t)
        self.on, self._t = on, t


class DetectorModel:
    """Common part: transients, noise, rail, faults. Subclasses give `_photocurrent`."""

    head = ""
    electronics: Electronics

    def __init__(self, *, clock: Clock, env: Environment, rng: np.random.Generator, stray_reflectance: float,
                 gain_error: float, wavelength_error_nm: float, noise_scale: float) -> None:
        self.clock = clock
        self.env = env
        self.rng = rng
        self.stray = stray_reflectance
        self.gain_error = gain_error
        self.wavelength_error_nm = wavelength_error_nm
        self.noise_scale = noise_scale
        #: faults: the amplifier output sits at its rail / the light sources give nothing
        self.rail_fault = False
        self.light_dead = False
        self._transient = (-math.inf, 0.0, 1.0)
        self._item: SampleSpectrum | None = None
        self._fine_r: np.ndarray | None = None
        self._cache: dict = {}

    # --- what lies on the port ----------------------------------------------------------------

    def fine_grid(self) -> np.ndarray:
        raise NotImplementedError

    def required_range_nm(self) -> tuple[float, float]:
        raise NotImplementedError

    def set_item(self, item: SampleSpectrum | None) -> None:
        """Put an item on the port (None: nothing, i.e. only stray light)."""
        t = self.clock.monotonic()
        self._event(t, lambda: self._set_item(item), self.electronics.settle_tau_s)

    def _set_item(self, item: SampleSpectrum | None) -> None:
        self._item, self._cache = item, {}
        if item is None or item.kind == "bands":
            self._fine_r = None
            return
        r = item.at(self.fine_grid())
        if item.unit_white_tile:
            r = r / (1.0 + self.gain_error)   # the unit's own tile: the gain error lives here
        self._fine_r = r

    def check_item(self, item: SampleSpectrum) -> None:
        if item.kind == "continuous":
            lo, hi = self.required_range_nm()
            if not item.covers(lo, hi):
                raise SampleSourceError(f"sample {item.name} covers {item.wavelengths_nm[0]:.0f}–"
                                        f"{item.wavelengths_nm[-1]:.0f} nm; the {self.head} head needs "
                                        f"{lo:.0f}–{hi:.0f} nm")

    # --- the amplifier ----------------------------------------------------------------------------

    def _photocurrent(self, t: float) -> float:
        raise NotImplementedError

    def _target(self, t: float) -> float:
        e = self.electronics
        temp = self.env.temperature_c(t)
        dark = e.dark_current_a * 2.0 ** ((temp - 25.0) / 10.0)
        return e.offset_v + e.offset_drift_v_per_c * (temp - 25.0) + e.tia_ohm * (self._photocurrent(t) + dark)

    def _settled(self, t: float) -> float:
        t_ev, delta, tau = self._transient
        v = self._target(t)
        if delta and t >= t_ev:
            v += delta * math.exp(-(t - t_ev) / tau)
        return v

    def _event(self, t: float, change: Callable[[], None], tau: float) -> None:
        """Apply a step (light on/off, filter move) with the amplifier/filter settling after it."""
        before = self._settled(t)
        change()
        self._transient = (t, before - self._target(t), tau)

    def voltage(self, t: float, bandwidth_hz: float) -> float:
        """AIN0 against AGND at ``t``, with the noise of one conversion of ``bandwidth_hz``."""
        e = self.electronics
        if self.rail_fault:
            return e.rail_v
        v = self._settled(t)
        if self.noise_scale:
            current = max((v - e.offset_v) / e.tia_ohm, 0.0)
            shot = e.tia_ohm * math.sqrt(2 * _Q * current * bandwidth_hz)
            johnson = math.sqrt(4 * _K_B * 298.0 * e.tia_ohm * bandwidth_hz)
            v += self.noise_scale * math.hypot(shot, johnson) * float(self.rng.standard_normal())
        return min(max(v, 0.0), e.rail_v)

    def _port(self, t: float, response: tuple[float, float]) -> float:
        """Σ R_eff w / norm: coverage · sample + stray light, both through the channel's weights."""
        sample, flat = response
        return self.env.coverage(t) * sample + self.stray * flat


class FpiDetector(DetectorModel):
    """Halogen lamp → sample → C13272-02 filter tuned by DAC A through the HV stage → InGaAs."""

    head = "fpi"
    electronics = FPI_ELECTRONICS

    def __init__(self, *, table: FpiTable, hv_gain: float, dac: SimDac8532, **kwargs) -> None:
        super().__init__(**kwargs)
        self.table, self.hv_gain, self.dac = table, hv_gain, dac
        self.lamp = _Lamp()
        self._inverse: dict[tuple[float, float], float] = {}
        lo, hi = table.range_nm
        margin = INVERT_MARGIN_NM + 2 * optics.FPI_FWHM_NM + abs(self.wavelength_error_nm)
        self._fine = np.arange(lo - margin, hi + margin + _FINE_STEP_NM / 2, _FINE_STEP_NM)
        weights = optics.fpi_optics(optics.fpi_grid(lo, hi)).channel_weights(self._fine)
        self._norm = float(weights.sum(axis=1).max())
        self._set_item(None)

    def fine_grid(self) -> np.ndarray:
        return self._fine

    def required_range_nm(self) -> tuple[float, float]:
        return optics.fpi_optics(optics.fpi_grid(*self.table.range_nm)).source_range_nm

    def check_item(self, item: SampleSpectrum) -> None:
        if item.kind == "bands":
            raise SampleSourceError(f"sample {item.name} has only led8 band values; the fpi head needs a "
                                    f"continuous spectrum")
        super().check_item(item)

    def on_lamp(self, level: int, t: float) -> None:
        if not self.light_dead:
            self._event(t, lambda: self.lamp.switch(bool(level), t), self.electronics.settle_tau_s)

    def on_dac(self, channel: str, volts: float, t: float) -> None:
        if channel == "A":  # the mirror moves: the passband glides to its new place
            self._event(t, lambda: None, FPI_STEP_TAU_S)

    def transmitted_nm(self, t: float) -> float:
        """Centre of the passband now: the table's inverse at the true temperature, plus the unit's error."""
        key = (self.dac.output_v("A") * self.hv_gain, round(self.env.temperature_c(t), 4))
        lam = self._inverse.get(key)
        if lam is None:
            if len(self._inverse) > 4096:
                self._inverse.clear()
            lam = self._inverse[key] = self.table.wavelength(*key)
        return lam + self.wavelength_error_nm

    def _response(self, lam: float) -> tuple[float, float]:
        key = round(lam, 3)
        hit = self._cache.get(key)
        if hit is None:
            w = optics.fpi_optics(np.array([lam])).channel_weights(self._fine)[0]
            flat = float(w.sum()) / self._norm
            sample = float(self._fine_r @ w) / self._norm if self._fine_r is not None else 0.0
            hit = self._cache[key] = (sample, flat)
        return hit

    def _photocurrent(self, t: float) -> float:
        level = self.lamp.level(t)
        if level <= 0.0:
            return 0.0
        return self.electronics.white_photocurrent_a * level * self._port(t, self._response(self.transmitted_nm(t)))


class Led8Detector(DetectorModel):
    """Eight NIR LEDs → sample → one InGaAs photodiode."""

    head = "led8"
    electronics = LED8_ELECTRONICS

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.on: set[int] = set()
        self._optics = optics.led8_optics()
        lo, hi = self._optics.source_range_nm
        margin = abs(self.wavelength_error_nm) + 30.0
        self._fine = np.arange(lo - margin, hi + margin + _FINE_STEP_NM / 2, _FINE_STEP_NM)
        self._norm = float(self._optics.channel_weights(self._fine).sum(axis=1).max())
        self._nominal = np.array([b.nominal_nm for b in optics.LED8_BANDS])
        self._set_item(None)

    def fine_grid(self) -> np.ndarray:
        return self._fine

    def required_range_nm(self) -> tuple[float, float]:
        return self._optics.source_range_nm

    def on_led(self, index: int) -> Callable[[int, float], None]:
        def listener(level: int, t: float) -> None:
            if self.light_dead:
                return
            self._event(t, lambda: (self.on.add if level else self.on.discard)(index), self.electronics.settle_tau_s)
        return listener

    def _responses(self, shift: float) -> tuple[np.ndarray, np.ndarray]:
        key = round(shift, 3)
        hit = self._cache.get(key)
        if hit is None:
            w = self._optics.channel_weights(self._fine, shift)
            flat = w.sum(axis=1) / self._norm
            if self._item is not None and self._item.kind == "bands":
                r = np.interp(self._nominal + shift, self._nominal, self._item.reflectance)
                if self._item.unit_white_tile:
                    r = r / (1.0 + self.gain_error)
                sample = r * flat
            elif self._fine_r is not None:
                sample = (w @ self._fine_r) / self._norm
            else:
                sample = np.zeros(len(flat))
            hit = self._cache[key] = (sample, flat)
        return hit

    def _photocurrent(self, t: float) -> float:
        if not self.on:
            return 0.0
        dt = self.env.temperature_c(t) - 25.0
        sample, flat = self._responses(self.wavelength_error_nm + LED_SHIFT_NM_PER_C * dt)
        power = 1.0 + LED_POWER_PER_C * dt
        idx = sorted(self.on)
        return self.electronics.white_photocurrent_a * power * self._port(t, (float(sample[idx].sum()),
                                                                               float(flat[idx].sum())))
