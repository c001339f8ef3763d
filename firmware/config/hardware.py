"""``[hardware]``: which backend, and how the AD/DA board is wired (BCM pin numbers).

Pin defaults are DESIGN.md's (Waveshare High-Precision AD/DA board + the PlastiNIR heads).
Rules across fields (no pin used twice, no SPI0 pin reused as a GPIO, SCLK within the
ADS1256's limit) live in one validator, so a miswired config stops at ``check-config``.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..chips import ads1256_regs as R
from .base import Section

#: SPI0 lines (CE1, CE0, MISO, MOSI, SCLK) are the SPI driver's, not free GPIOs.
SPI0_PINS = {7: "SPI0 CE1", 8: "SPI0 CE0", 9: "SPI0 MISO", 10: "SPI0 MOSI", 11: "SPI0 SCLK"}
BcmPin = int


def _pin(default: int, what: str) -> int:
    return Field(default=default, ge=0, le=27, description=f"{what} (BCM GPIO number).")


class HardwareSection(Section):
    backend: Literal["real", "sim"] | None = Field(
        default=None,
        description="'real' (RPi.GPIO + spidev on a Raspberry Pi) or 'sim' (register-level simulator). "
                    "Unset: the PLASTINIR_BACKEND environment variable or the --sim flag must choose; "
                    "the device never guesses.")
    spi_bus: int = Field(default=0, ge=0, le=6, description="SPI bus of /dev/spidev<bus>.<device> (SPI0 on the HAT).")
    spi_device: int = Field(default=0, ge=0, le=2, description="SPI device of /dev/spidev<bus>.<device>.")
    spi_speed_hz: int = Field(
        default=1_000_000, ge=10_000,
        description="SCLK frequency; the ADS1256 allows at most fCLKIN/4 (1.92 MHz with the 7.68 MHz crystal).")
    ads1256_cs: BcmPin = _pin(22, "ADS1256 chip select, driven as a plain GPIO")
    ads1256_drdy: BcmPin = _pin(17, "ADS1256 DRDY (input with pull-up, active low)")
    ads1256_reset: BcmPin = _pin(18, "ADS1256 RESET (active low)")
    dac8532_cs: BcmPin = _pin(23, "DAC8532 chip select (its SYNC pin)")
    lamp_pin: BcmPin = _pin(26, "Halogen lamp MOSFET of the fpi head (high = on)")
    led_pins: list[BcmPin] = Field(
        default_factory=lambda: [5, 6, 12, 13, 16, 19, 20, 21], min_length=8, max_length=8,
        description="GPIOs of the led8 head's LEDs at 940, 1050, 1200, 1300, 1450, 1550, 1650, 1720 nm, in that order.")
    trigger_pin: BcmPin = _pin(27, "Trigger button (pull-up, active low)")
    status_led_pin: BcmPin = _pin(24, "Status LED")
    adc_vref_v: float = Field(
        default=2.5, gt=0, le=2.6,
        description="ADS1256 reference voltage (2.5 V on the board).")
    adc_clock_hz: float = Field(default=R.FCLKIN_HZ, gt=1e6, le=10e6,
                                description="ADS1256 master clock (the board's 7.68 MHz crystal).")
    adc_buffer: bool = Field(default=False, description="ADS1256 input buffer (BUFEN); limits inputs to 0–3 V.")
    drdy_timeout_s: float = Field(default=0.5, gt=0, le=10,
                                  description="How long to wait for DRDY before declaring the ADC dead.")
    dac_vref_v: float = Field(default=5.0, gt=0, le=5.5, description="DAC8532 reference (5.0 V board default).")
    detector_ain: int = Field(default=0, ge=0, le=7, description="ADS1256 input of the photodiode amplifier.")
    thermistor_ain: int = Field(default=1, ge=0, le=7, description="ADS1256 input of the FPI thermistor divider.")
    dac_loopback: bool = Field(
        default=True,
        description="DAC8532 channel B is jumpered to dac_loopback_ain, so the self-test and the fpi head can "
                    "check that the write-only DAC answers. false: not wired (the DAC is then not verified).")
    dac_loopback_ain: int = Field(default=7, ge=0, le=7, description="ADS1256 input of the DAC channel B loopback.")

    @property
    def loopback_ain(self) -> int | None:
        """The loopback input, or None when no loopback is wired."""
        return self.dac_loopback_ain if self.dac_loopback else None

    @model_validator(mode="after")
    def _wiring(self) -> "HardwareSection":
        pins = {
            "ads1256_cs": self.ads1256_cs, "ads1256_drdy": self.ads1256_drdy, "ads1256_reset": self.ads1256_reset,
            "dac8532_cs": self.dac8532_cs, "lamp_pin": self.lamp_pin, "trigger_pin": self.trigger_pin,
            "status_led_pin": self.status_led_pin,
            **{f"led_pins[{i}]": p for i, p in enumerate(self.led_pins)},
        }
        seen: dict[int, str] = {}
        for name, pin in pins.items():
            if pin in SPI0_PINS:
                raise ValueError(f"{name} = GPIO{pin} is {SPI0_PINS[pin]}, used by the SPI bus")
            if pin in seen:
                raise ValueError(f"GPIO{pin} is used twice: {seen[pin]} and {name}")
            seen[pin] = name
        limit = self.adc_clock_hz / R.SCLK_DIVIDER
        if self.spi_speed_hz > limit:
            raise ValueError(f"spi_speed_hz = {self.spi_speed_hz} exceeds the ADS1256 limit fCLKIN/4 = {limit:.0f} Hz "
                             f"(datasheet t1: SCLK period >= 4 tCLKIN)")
        ains = {"detector_ain": self.detector_ain, "thermistor_ain": self.thermistor_ain}
        if self.dac_loopback:
            ains["dac_loopback_ain"] = self.dac_loopback_ain
        used: dict[int, str] = {}
        for name, ain in ains.items():
            if ain in used:
                raise ValueError(f"ADS1256 input AIN{ain} is used twice: {used[ain]} and {name}")
            used[ain] = name
        return self
