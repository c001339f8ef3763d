"""Faults the simulator can inject, by name, and the exception each must surface as.

Each fault changes the simulated hardware, never the drivers: the drivers and heads must notice
on their own, exactly as they would on a broken board. The ``exception`` column is the contract
the tests check (and what the runtime can expect).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..errors import (AdcSaturation, ChipIdError, DacNotAnswering, DataLineStuck, DrdyTimeout, HardwareError,
                      LightSourceFailure)

if TYPE_CHECKING:
    from .board import SimBoard

#: The ID a "wrong-id" chip reports (an ADS1256 reports 3).
WRONG_ID = 1


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    exception: type[HardwareError]
    apply: Callable[["SimBoard"], None]
    clear: Callable[["SimBoard"], None]


def _set(attr_path: str, value, default) -> tuple[Callable, Callable]:
    owner_name, attr = attr_path.split(".")

    def apply(board: "SimBoard") -> None:
        setattr(getattr(board, owner_name), attr, value)

    def clear(board: "SimBoard") -> None:
        setattr(getattr(board, owner_name), attr, default)

    return apply, clear


def _light(dead: bool) -> Callable[["SimBoard"], None]:
    def apply(board: "SimBoard") -> None:
        board.kill_light(dead)
    return apply


def _dac(dead: bool) -> Callable[["SimBoard"], None]:
    def apply(board: "SimBoard") -> None:
        board.kill_dac(dead)
    return apply


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("drdy-stuck", "the ADS1256's DRDY line stays high (no conversion ever ready)", DrdyTimeout,
          *_set("adc.drdy_stuck", True, False)),
    Fault("miso-low", "MISO stuck low: every byte read is 0x00", DataLineStuck, *_set("bus.miso_stuck", 0x00, None)),
    Fault("miso-high", "MISO stuck high: every byte read is 0xFF", DataLineStuck, *_set("bus.miso_stuck", 0xFF, None)),
    Fault("wrong-id", f"the ADC reports chip ID {WRONG_ID} instead of 3", ChipIdError,
          *_set("adc.id_override", WRONG_ID, None)),
    Fault("saturation", "the detector amplifier's output sits at its rail (light flooding the port)", AdcSaturation,
          *_set("detector.rail_fault", True, False)),
    Fault("lamp-failure", "the lamp (fpi) or every LED (led8) gives no light", LightSourceFailure,
          _light(True), _light(False)),
    Fault("dac-dead", "the DAC8532 is dead: outputs at 0 V, every frame ignored", DacNotAnswering,
          _dac(True), _dac(False)),
)}
