"""``nir-device acquire``: take one raw reading and print it (``--json``: one object on stdout).

With ``--sim`` the reading comes from the register-level simulator, with the sample given by
``--sample`` on the port and optionally a ``--fault`` injected; without it, from the board the
config selects. A saturated reading is retried at lower gains, as the runtime does; a fault
exits 1 with a message naming it.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..board import open_board, open_head, resolve_backend
from ..config import load_config
from ..errors import AdcSaturation, ConfigError
from ..heads import HEADS
from ..model_package import load_package
from ..reading import RawReading
from ..sim.faults import FAULTS
from ..sim.samples import parse_sample

HELP = "take one raw reading (dark + lit counts per channel) and print it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim", action="store_true", help="use the register-level simulator")
    parser.add_argument("--head", choices=sorted(HEADS), help="optical head (default: the config's head.name)")
    parser.add_argument("--sample", metavar="SPEC",
                        help="simulator only: what lies on the port: white, black, empty, csv:PATH:ROW, or a class "
                             "name of --model's package (default: the config's sim.sample)")
    parser.add_argument("--fault", action="append", choices=list(FAULTS), default=[],
                        help="simulator only: inject a fault (repeatable)")
    parser.add_argument("--model", metavar="PKG", help="model package whose reference spectra name the classes")
    parser.add_argument("--config", metavar="FILE", help="device config (TOML); default: built-in defaults")
    parser.add_argument("--seed", type=int, help="simulator only: random seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object (and nothing else) on stdout")


def _print_table(reading: RawReading, board_desc: str, sample: str | None) -> None:
    print(f"head {reading.head} on {board_desc}" + (f", sample {sample}" if sample else ""))
    print(f"temperature {reading.temperature_c:.2f} °C, gain {reading.gain}, "
          f"physical acquisition time {reading.physical_time_s:.3f} s")
    print(f"{'nm':>8} {'dark':>12} {'lit':>12} {'net':>12}")
    for wl, d, lit, n in zip(reading.wavelengths_nm, reading.dark, reading.lit, reading.net):
        print(f"{wl:8.1f} {d:12.1f} {lit:12.1f} {n:12.1f}")


def run(args: argparse.Namespace) -> int:
    overrides: dict = {}
    if args.head:
        overrides.setdefault("head", {})["name"] = args.head
    if args.fault:
        overrides.setdefault("sim", {})["faults"] = list(dict.fromkeys(args.fault))
    if args.seed is not None:
        overrides.setdefault("sim", {})["seed"] = args.seed
    config = load_config(args.config, overrides or None)
    package = load_package(args.model, None) if args.model else None
    if args.sample:
        # parse first: a bad spec should not cost a board bring-up, and should name the sources
        source = parse_sample(args.sample, package)
    backend, _ = resolve_backend(config, "sim" if args.sim else None)
    if backend != "sim" and (args.sample or args.fault or args.seed is not None):
        raise ConfigError("--sample, --fault and --seed need the simulator (--sim, hardware.backend = \"sim\" "
                          "or PLASTINIR_BACKEND=sim)")
    board = open_board(config, backend=backend)
    try:
        if args.sample:
            board.sim.place(source)
        head = open_head(config, board)
        try:
            while True:
                try:
                    reading = head.acquire()
                    break
                except AdcSaturation:
                    if not head.lower_gain():
                        raise
        finally:
            head.close()
    finally:
        board.close()
    if args.json:
        out = reading.to_json()
        out["backend"] = board.backend
        if board.sim is not None:
            out["sample"] = board.sim.item.name if board.sim.item else None
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        _print_table(reading, f"{board.backend} board", board.sim.item.name if board.sim and board.sim.item else None)
    return 0
