"""``nir-device selftest``: bring the board up and run the self-test (what every start does).

Checks the ADS1256 (ID, MISO, DRDY rate), the DAC loopback, the head temperature and one
reading; prints every check with its value and limit. Exit 1 when the device ends in fault.
``--fault`` (simulator) breaks the board from power-up, to see what each failure looks like.
"""
from __future__ import annotations

import argparse
import json

from ..daemon import status_line
from ..sim.faults import FAULTS
from ..state import State
from .common import add_common, add_sim, open_runtime

HELP = "run the board and head self-test and print every check"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    add_sim(parser)
    parser.add_argument("--fault", action="append", choices=list(FAULTS), default=[],
                        help="simulator: a fault active from power-up (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    overrides = {"sim": {"faults": list(dict.fromkeys(args.fault))}} if args.fault else None
    with open_runtime(args, "nir-device selftest", overrides) as rt:
        snap = rt.start()
        report = rt.last_self_test
    ok = snap["state"] != State.FAULT.value
    if args.json:
        print(json.dumps({"ok": ok, "state": snap["state"], "reason": snap["reason"], "report": report,
                          "unit": snap["unit"], "model": snap["model"]}, sort_keys=True))
    else:
        for check in (report or {}).get("board", []):
            mark = {True: "ok  ", False: "FAIL", None: "skip"}[check["ok"]]
            print(f"{mark} {check['name']:<12} {check['message']} (limit {check['limit']})")
        print(f"device {status_line(snap)}")
    return 0 if ok else 1
