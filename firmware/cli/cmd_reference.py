"""``nir-device reference white|dark``: take a reference and keep it in the journal.

``white``: the white tile on the port; ``dark``: the port covered by the black trap (stray
light). With ``--sim`` the simulator puts the tile (white) or nothing (dark: only the head's
stray light) on the port unless ``--sample`` says otherwise. Refused while ``nir-device run``
holds the hardware: take references from the status page or over MQTT then.
"""
from __future__ import annotations

import argparse
import json

from ..daemon import status_line
from ..errors import NotReady
from ..references import KINDS
from ..state import State
from .common import add_common, add_sim, model_package, open_runtime, require_sim

HELP = "take a white (tile on the port) or dark (port covered) reference"
SIM_DEFAULT = {"white": "white", "dark": "empty"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="white: tile on the port; dark: port covered")
    add_common(parser)
    add_sim(parser)
    parser.add_argument("--sample", metavar="SPEC",
                        help="simulator: what lies on the port (default: the white tile, or nothing for dark)")
    parser.add_argument("--json", action="store_true", help="print the reference summary as JSON")


def run(args: argparse.Namespace) -> int:
    with open_runtime(args, f"nir-device reference {args.kind}") as rt:
        rt.start()
        if rt.state.state is State.FAULT:
            raise NotReady(f"cannot take a {args.kind} reference: {rt.state.reason}")
        if (rt.board is not None and rt.board.sim is not None) or args.sample:
            sim = require_sim(rt, "--sample")
            sim.place(args.sample or SIM_DEFAULT[args.kind], package=model_package(rt))
        summary = rt.take_reference(args.kind, trigger="cli")
        state = rt.state.snapshot()
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"{args.kind} reference {summary['id']} taken at {summary['temperature_c']} °C on {summary['channels']} "
              f"channels (gain {summary['gain'].get('pga')}); device {status_line(state)}")
    return 0
