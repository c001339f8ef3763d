"""``nir-device run``: the device service — acquisition loop with the trigger button, status page,
MQTT link — until SIGTERM or Ctrl-C (what systemd's ``nir-device.service`` runs).

Holds the hardware for its lifetime: ``measure``/``reference`` started beside it refuse with
"device busy: use the status page or MQTT"; ``export`` and ``id`` keep working. Tells systemd
READY=1 when the boot sequence is done and the page and link listen, and pings its watchdog
from the loop.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..daemon import run_daemon, status_line
from .common import add_common, add_sim, open_runtime, setup_logging

HELP = "run the device: acquisition loop, trigger button, status page and MQTT link"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    add_sim(parser)
    parser.add_argument("--http-port", type=int, metavar="N", help="status page port (overrides http.port; 0: any free)")
    parser.add_argument("--broker", metavar="URL",
                        help="mqtt://HOST:PORT, mqtts://HOST:PORT (TLS) or none (overrides mqtt.broker)")
    parser.add_argument("--verbose", action="store_true", help="debug logging")


def overrides_from(args: argparse.Namespace) -> dict:
    overrides: dict = {}
    if args.http_port is not None:
        overrides["http"] = {"port": args.http_port}
    if args.broker is not None:
        overrides["mqtt"] = {"broker": args.broker}
    return overrides


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, frame) -> None:
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def announce(runtime, services) -> None:
    snap = runtime.snapshot()
    lines = [f"unit {snap['unit']} ({snap['head']} head, {snap['backend'] or 'no'} board), boot {snap['boot_id']}",
             f"state {status_line(snap)}",
             f"model {snap['model']['name'] if snap['model'] else 'none: ' + '; '.join(snap['model_errors'])}",
             f"journal {runtime.journal.path}"]
    lines += [f"{s.name}: {s.where}" for s in services]
    names = {s.name for s in services}
    if "status page" not in names:
        lines.append("status page: not served (http.enabled = false)")
    if runtime.config.mqtt.endpoint is None:
        lines.append("MQTT: no broker (--broker none): results wait in the journal's outbox")
    for line in lines:
        print(f"nir-device: {line}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    stop = threading.Event()
    stop_on_signals(stop)
    with open_runtime(args, "nir-device run", overrides_from(args)) as rt:
        rt.start()
        run_daemon(rt, stop, on_ready=lambda services: announce(rt, services))
    print("nir-device: stopped", file=sys.stderr)
    return 0
