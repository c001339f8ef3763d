"""Software time per reading against the physical acquisition time the simulator reports.

The simulated clock advances by every wait the drivers ask for (settling, t18, lamp warm-up,
SPI byte times), so ``RawReading.physical_time_s`` is how long the reading takes on a real board,
while the wall time of ``acquire()`` is what the Python code costs: drivers, heads *and* the
register-level simulator. The ratio bounds the drivers' overhead from above; on a Pi the same
driver code runs without the simulator's share, on a slower CPU.
"""
from __future__ import annotations

import statistics
import time

from bench import Figure
from firmware.board import open_board, open_head
from firmware.config import DeviceConfig


def _measure(head: str, repeats: int) -> list[Figure]:
    config = DeviceConfig.model_validate({"hardware": {"backend": "sim"}, "head": {"name": head},
                                          "sim": {"seed": 1, "sample": "white"}})
    t0 = time.perf_counter()
    board = open_board(config)
    bring_up_sw = time.perf_counter() - t0
    bring_up_phys = board.clock.monotonic()
    head_obj = open_head(config, board)
    try:
        head_obj.acquire()                         # first reading pays the one-off caches
        transfers0, conv0 = board.sim.bus.transfers, board.sim.adc.conversions
        software, physical = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            reading = head_obj.acquire()
            software.append(time.perf_counter() - t)
            physical.append(reading.physical_time_s)
        transfers = (board.sim.bus.transfers - transfers0) / repeats
        conversions = (board.sim.adc.conversions - conv0) / repeats
    finally:
        head_obj.close()
        board.close()
    sw, phys = statistics.median(software), statistics.median(physical)
    return [
        Figure(f"{head}: physical acquisition time", phys, "s"),
        Figure(f"{head}: software time per reading (drivers + simulator)", sw * 1e3, "ms", ratio=sw / phys,
               reference="physical acquisition time", target="< 0.1"),
        Figure(f"{head}: SPI transfers per reading", transfers, "transfers"),
        Figure(f"{head}: ADC conversions per reading", conversions, "conversions"),
        Figure(f"{head}: board bring-up, software (incl. building the simulator)", bring_up_sw * 1e3, "ms", ratio=bring_up_sw / bring_up_phys,
               reference="physical bring-up time"),
    ]


def run(quick: bool) -> list[Figure]:
    repeats = 3 if quick else 20
    return _measure("fpi", repeats) + _measure("led8", repeats)
