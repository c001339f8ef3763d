"""``nir-device lamp show|reset``: the light source's hour counter (docs/RUNTIME.md, lamp hours).

``show`` prints the hours the journal holds for every head that has a counter (what the page
adds to it is only the reading in progress). ``reset`` is for the technician who replaced the
lamp (or an LED board): it sets the configured head's counter to 0, or to ``--hours H`` when a
used lamp goes in or the service log knows the hours of a counter that was lost or corrupted,
and journals a ``maintenance`` event ``lamp-reset`` with the value it replaced, in the same
transaction. It only writes the journal (never the hardware), so it works beside a running
``nir-device run``, which keeps counting on top of the new value.
"""
from __future__ import annotations

import argparse
import json
import math

from ..errors import ConfigError, LampCounterError
from ..heads import HEADS
from ..lamp_hours import light_source, reset_lamp
from .common import add_common, config_from, open_existing_journal

HELP = "show or reset the light source's hour counter (after a lamp replacement)"


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not math.isfinite(value) or value < 0 or value > 1e6:
        raise argparse.ArgumentTypeError(f"hours must be between 0 and 1e6, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("show", "reset"),
                        help="show: hours per head; reset: set the configured head's counter (new lamp: 0)")
    add_common(parser)
    parser.add_argument("--hours", type=_hours, default=0.0, metavar="H",
                        help="reset: the lamp's hours so far (default 0, a new lamp)")
    parser.add_argument("--head", metavar="NAME",
                        help="reset: the head whose counter to set (default: head.name from the config)")
    parser.add_argument("--note", metavar="TEXT", help="reset: kept in the event (e.g. the lamp's part number)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _show(journal, args: argparse.Namespace) -> int:
    out = []
    for counter in journal.lamp_counters():
        head = counter["head"]
        try:
            seconds = journal.lamp_seconds(head)
            hours, error = round(seconds / 3600.0, 4), None
        except LampCounterError as exc:
            hours, error = None, str(exc)
        out.append({"head": head, "light_source": light_source(head), "hours": hours, "error": error,
                    "counting_since": counter["since"], "reset_at": counter["reset_at"]})
    if args.json:
        print(json.dumps(out, sort_keys=True))
    elif not out:
        print("no lamp hour counter yet (the device starts one when it first opens its head)")
    else:
        for row in out:
            figure = f"{row['hours']:.2f} h" if row["hours"] is not None else f"unusable: {row['error']}"
            print(f"{row['head']}: {figure} ({row['light_source']})")
    return 0 if all(r["error"] is None for r in out) else 1


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    with open_existing_journal(args, config) as journal:
        if args.action == "show":
            if args.head or args.note or args.hours:
                raise ConfigError("--hours, --head and --note belong to `lamp reset`")
            return _show(journal, args)
        head = args.head or config.head.name
        if head not in HEADS:
            raise ConfigError(f"--head {head!r} is not an optical head; known: {', '.join(sorted(HEADS))}")
        done = reset_lamp(journal, head, args.hours, note=args.note)
    if args.json:
        print(json.dumps(done, sort_keys=True))
    else:
        was = f"{done['previous_hours']:.2f} h" if done["previous_hours"] is not None else "no usable value"
        print(f"{head} {light_source(head)} hour counter set to {done['hours']:g} h (was {was}); "
              f"journaled as maintenance event {done['event_id']}")
    return 0
