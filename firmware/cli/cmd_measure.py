"""``nir-device measure``: measure the item on the port and print its signed result record.

It drives the hardware itself, so it refuses while ``nir-device run`` holds it ("device busy:
use the status page or MQTT"); the journal is shared, and the next ``run`` delivers the result.
With ``--sim`` the item is chosen by ``--sample`` (a class of the model in service, ``black``,
``empty``, ``csv:PATH:ROW`` …); ``--motion`` makes it slide, ``--fault`` breaks the simulated
board just before the measurement. Without a valid white reference the measurement is refused
with the reason, unless ``--auto-reference`` (simulator only) first puts the simulated white
tile on the port and takes one.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import ConfigError, NotReady
from ..references import NEEDED
from ..sim.faults import FAULTS
from ..sim.samples import parse_sample
from ..state import State
from .common import add_common, add_sim, model_package, open_runtime, require_sim

HELP = "measure the item on the port and print the signed result record"
TAGS = ("sample_id", "merchant", "location", "batch", "product", "claimed_material")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    add_sim(parser)
    parser.add_argument("--json", action="store_true", help="print only the record as JSON (one line per result)")
    parser.add_argument("--sample", metavar="SPEC",
                        help="simulator: what lies on the port: a class of the model (pet, pla, …), white, black, "
                             "empty, csv:PATH:ROW")
    parser.add_argument("--motion", type=float, default=0.0, metavar="F",
                        help="simulator: the sample slides across the port (0 still … 1 whole port)")
    parser.add_argument("--fault", action="append", choices=list(FAULTS), default=[],
                        help="simulator: break the board just before measuring (repeatable)")
    parser.add_argument("--auto-reference", action="store_true",
                        help="simulator: without a valid white reference, take one on the simulated white tile first")
    parser.add_argument("--count", type=int, default=1, metavar="N",
                        help="measure N items in a row (a new item of --sample each time)")
    for tag in TAGS:
        parser.add_argument(f"--{tag.replace('_', '-')}", dest=tag, metavar="TEXT", help=f"sample tag: {tag}")
    parser.add_argument("--operator", metavar="NAME", help="who measured (recorded as operator)")


def _print(record: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, sort_keys=True, ensure_ascii=False), flush=True)
        return
    what = record.get("class") or ""
    degradable = {True: "biodegradable", False: "conventional", None: ""}[record.get("degradable")]
    conf = f", confidence {record['confidence']:.2f}" if record.get("confidence") is not None else ""
    print(" ".join(p for p in (f"seq {record['seq']} ", record["verdict"], what, degradable) if p) + conf, flush=True)
    if record.get("reason"):
        print(f"  reason: {record['reason']}")
    for name, q in (record.get("composition") or {}).items():
        print(f"  {name}: {q['value']:.1f} ± {q['uncertainty']:.1f} {q['unit']}")
    print(f"  unit {record['unit']}, model {record['model']['name']} v{record['model']['version']}, "
          f"{record['time']}, signed")


def run(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise ConfigError("--count must be at least 1")
    simulated = args.sample or args.fault or args.motion or args.auto_reference
    tags = {t: getattr(args, t) for t in TAGS if getattr(args, t) is not None}
    with open_runtime(args, "nir-device measure") as rt:
        rt.start()
        if rt.state.state is State.FAULT:
            raise NotReady(f"cannot start measuring: {rt.state.reason}")
        sim = require_sim(rt, "--sample, --motion, --fault and --auto-reference") if simulated else None
        source = parse_sample(args.sample, model_package(rt)) if args.sample else None
        if rt.state.state == State.NEEDS_REFERENCE and args.auto_reference:
            sim.place("white")
            ref = rt.take_reference("white", trigger="cli")
            print(f"took a white reference on the simulated tile at {ref['temperature_c']} °C", file=sys.stderr)
        for _ in range(args.count):
            if source is not None:
                sim.place(source, motion=args.motion)
            for fault in args.fault:
                sim.inject(fault)
            try:
                record = rt.measure(tags, trigger="cli", operator=args.operator)
            except NotReady as exc:
                if NEEDED in str(exc):
                    raise NotReady(f"{exc} (take one: put the white tile on the port and run `nir-device reference "
                                   f"white`; with --sim, --auto-reference does it on the simulated tile)") from None
                raise
            _print(record, args.json)
    return 0
