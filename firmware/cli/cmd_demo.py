"""``nir-device demo`` (what ``make demo`` runs): a simulated unit with its status page, measuring a
rotating set of samples every few seconds. Ctrl-C stops it cleanly.

It is ``nir-device run --sim`` (same runtime, loop, page, link plug-ins) plus `firmware.demo`
placing items on the simulated port. The simulator runs at a quarter of real time
(``sim.time_scale = 0.25``) so a measurement takes about as long to watch as on a unit.

MQTT: the demo brings its own broker (`firmware.mqtt.embedded`: Mosquitto when installed, else
amqtt, MQTT 3.1.1) on 127.0.0.1 (port 1883 when free, or ``--mqtt-port``), and — with Mosquitto
and the host tools installed — a bureau ingester storing into SQLite in the state directory with
the demo unit registered (`firmware.demo_mqtt`), so every result is seen acknowledged end to end.
``--broker URL`` uses another broker instead, ``--broker none`` runs without a link.
"""
from __future__ import annotations

import argparse
import sys
import threading

from ..daemon import run_daemon
from ..demo import Demo
from ..demo_mqtt import AckWatcher, DemoMqtt
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
    parser.add_argument("--broker", metavar="URL", default="embedded",
                        help="embedded (default: start a broker for the demo), mqtt://HOST:PORT, or none")
    parser.add_argument("--mqtt-port", type=int, metavar="N",
                        help="port of the embedded broker on 127.0.0.1 (default 1883 when free, else any free port; 0: any free port)")
    parser.add_argument("--embedded-broker", choices=["mosquitto", "amqtt"],
                        help="which embedded broker (default: mosquitto when installed, else amqtt)")
    parser.add_argument("--no-bureau", action="store_true",
                        help="do not start the bureau ingester beside the embedded broker")
    parser.add_argument("--verbose", action="store_true", help="log what the device does on stderr")


def run(args: argparse.Namespace) -> int:
    setup_logging(args.verbose) if args.verbose else setup_logging_quiet()
    mqtt = DemoMqtt(args.broker, state_dir=args.state_dir, port=args.mqtt_port, prefer=args.embedded_broker,
                    bureau=not args.no_bureau)
    overrides: dict = {"hardware": {"backend": "sim"}, "http": {"bind": "127.0.0.1", "port": args.http_port},
                       "mqtt": mqtt.config_overrides()}
    if args.config is None:
        overrides["sim"] = {"time_scale": 0.25}
    args.sim = True
    stop = threading.Event()
    stop_on_signals(stop)

    def out(text: str) -> None:
        print(text, flush=True)

    with open_runtime(args, "nir-device demo", overrides) as rt, mqtt:
        snap = rt.start()
        mqtt.start(rt.identity.unit, rt.identity.public_key)
        def done() -> None:
            """With --count: give the bureau a moment to acknowledge the last results, then stop."""
            mqtt.wait_drained(rt.journal, timeout_s=15.0, out=out)
            stop.set()

        demo = Demo(rt, stop=stop, interval_s=args.interval, count=args.count, out=out, done=done)
        worker = threading.Thread(target=demo.run, name="demo", daemon=True)
        watcher = AckWatcher(rt.journal, out=out, stop=stop) if mqtt.bureau_url else None

        def ready(services) -> None:
            page = next((s.where for s in services if s.name == "status page"), None)
            out("PlastiNIR demo: a simulated unit measuring a rotating set of samples "
                f"every {args.interval:g} s. Ctrl-C stops.")
            out(f"  unit:        {snap['unit']} ({snap['head']} head, model "
                f"{snap['model']['name'] if snap['model'] else 'none'})")
            out(f"  status page: {page or 'not served (http.enabled = false)'}")
            for line in mqtt.describe(rt.identity.unit):
                out(line)
            out(f"  journal:     {rt.journal.path}  (nir-device export --state-dir {args.state_dir} --format json)")
            worker.start()
            if watcher is not None:
                watcher.start()

        run_daemon(rt, stop, on_ready=ready)
        if worker.is_alive():
            worker.join(timeout=30)
        if watcher is not None:
            watcher.join()
    print(f"demo stopped: {len(demo.results)} result(s) in {args.state_dir}", file=sys.stderr)
    return 0


def setup_logging_quiet() -> None:
    import logging
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
