"""``nir-host bureau``: run the bureau ingester (MQTT → database, acknowledged after commit)."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import threading

HELP = "run the bureau ingester: store every unit's results exactly once and acknowledge them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="sqlite:///PATH (default sqlite:///bureau.db) or postgresql://…")
    parser.add_argument("--broker", metavar="URL", help="mqtt://HOST:PORT or mqtts://HOST:PORT (overrides config)")
    parser.add_argument("--shared", metavar="GROUP", help="join the shared subscription $share/GROUP/… so several "
                                                          "ingesters split the load")
    parser.add_argument("--client-id", metavar="ID", help="MQTT client id (the persistent session's name)")
    parser.add_argument("--config", metavar="FILE", help="bureau config (TOML); default $PLASTINIR_BUREAU_CONFIG "
                                                         "or built-in defaults")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the config (and the URLs) and exit; for systemd ExecStartPre=")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def overrides(args: argparse.Namespace) -> dict:
    out: dict = {}
    if args.db:
        out["db"] = args.db
    mqtt = {}
    if args.broker:
        mqtt["broker"] = args.broker
    if args.shared:
        mqtt["shared_group"] = args.shared
    if getattr(args, "client_id", None):
        mqtt["client_id"] = args.client_id
    if mqtt:
        out["mqtt"] = mqtt
    return out


def run(args: argparse.Namespace) -> int:
    from host.bureau.config import load_bureau_config
    from host.bureau.database import redact

    config = load_bureau_config(args.config, overrides(args))
    if args.check_config:
        shown = config.model_dump(mode="json")
        shown["db"] = redact(shown["db"])
        print(json.dumps(shown, indent=2, sort_keys=True))
        print(f"{args.config or '<defaults>'}: ok")
        return 0

    import sdnotify

    from host.bureau.ingester import Ingester

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    notifier = sdnotify.SystemdNotifier()
    announced = {"ready": False}

    def tick(ingester: Ingester) -> None:
        c = ingester.counters()
        if ingester.ready and not announced["ready"]:
            announced["ready"] = True
            notifier.notify("READY=1")
        notifier.notify(f"STATUS=stored {c.get('stored', 0)}, duplicates {c.get('duplicates', 0)}, "
                        f"quarantined {c.get('quarantined', 0)}, {'connected' if ingester.ready else 'not connected'}")
        if ingester.healthy():
            notifier.notify("WATCHDOG=1")
        else:
            logging.getLogger("plastinir.bureau").error("worker or network thread died; exiting for a restart")
            stop.set()

    ingester = Ingester(config)
    ingester.run(stop, tick)
    notifier.notify("STOPPING=1")
    return 0 if ingester.healthy() or stop.is_set() else 1
