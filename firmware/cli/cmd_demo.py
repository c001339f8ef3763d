"""``nir-device demo`` (what ``make demo`` runs): a simulated unit with its status page, measuring a
rotating set of samples every few seconds. Ctrl-C stops it cleanly.

It is ``nir-device run --sim`` (same runtime, loop, page, link plug-ins) plus `firmware.demo`
placing items on the simulated port. The simulator runs at a quarter of real time
(``sim.time_scale = 0.25``) so a measurement takes about as long to watch as on a unit.
The embedded MQTT broker joins here once the MQTT link exists (issue 5): until then the demo
runs with ``mqtt.broker = none`` and results wait in the journal's outbox.
"""
from __future__ import annotations

import argparse
import sys
import threading

from ..daemon import run_daemon
from ..demo import Demo
from .cmd_run import stop_on_signals
from .common import add_config, open_runtime, setup_logging

HELP = "run a simulated unit with its status page, measuring a rotating set of samples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", metavar="DIR", default="state/demo",
                        help="journal, unit key, references (default: state/demo)")
    add_config(parser)
    parser.add_argument("--http-port", type=int, default=8080, metavar="N",
                        help="status page port on 127.0.0.1 (default 8080; 0: any free port)")
    parser.add_argument("--interval", type=float, default=4.0, metavar="S", help="seconds between samples (default 4)")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N results (default: until Ctrl-C)")
    parser.add_argument("--verbose", action="store_true", help="log what the device does on stderr")


def run(args: argparse.Namespace) -> int:
    setup_logging(args.verbose) if args.verbose else setup_logging_quiet()
    overrides: dict = {"hardware": {"backend": "sim"}, "http": {"bind": "127.0.0.1", "port": args.http_port},
                       "mqtt": {"broker": "none"}}
    if args.config is None:
        overrides["sim"] = {"time_scale": 0.25}
    args.sim = True
    stop = threading.Event()
    stop_on_signals(stop)

    def out(text: str) -> None:
        print(text, flush=True)

    with open_runtime(args, "nir-device demo", overrides) as rt:
        snap = rt.start()
        demo = Demo(rt, stop=stop, interval_s=args.interval, count=args.count, out=out)
        worker = threading.Thread(target=demo.run, name="demo", daemon=True)

        def ready(services) -> None:
            page = next((s.where for s in services if s.name == "status page"), None)
            out("PlastiNIR demo: a simulated unit measuring a rotating set of samples "
                f"every {args.interval:g} s. Ctrl-C stops.")
            out(f"  unit:        {snap['unit']} ({snap['head']} head, model "
                f"{snap['model']['name'] if snap['model'] else 'none'})")
            out(f"  status page: {page or 'not in this build yet (firmware.web, issue 6)'}")
            out("  MQTT:        no broker yet (the MQTT link, issue 5); results wait in the outbox")
            out(f"  journal:     {rt.journal.path}  (nir-device export --state-dir {args.state_dir} --format json)")
            worker.start()

        run_daemon(rt, stop, on_ready=ready)
        if worker.is_alive():
            worker.join(timeout=30)
    print(f"demo stopped: {len(demo.results)} result(s) in {args.state_dir}", file=sys.stderr)
    return 0


def setup_logging_quiet() -> None:
    import logging
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
