"""Chip drivers for the Waveshare High-Precision AD/DA board: ADS1256 (ADC) and DAC8532 (DAC).

Drivers take the SPI bus, the GPIO and the clock as keyword arguments and drive their chip
selects as GPIOs, so the identical code runs on a Pi and against ``firmware.sim``'s chips.
"""
