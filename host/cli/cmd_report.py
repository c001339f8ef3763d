"""``nir-host report results|nonconformities|units|lab``: bureau reports as CSV, JSON or HTML."""
from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from .cmd_units import database_url

HELP = "bureau reports: results, nonconformities, units (fleet health), lab (agreement with lab results)"


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction between 0 and 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", choices=["results", "nonconformities", "units", "lab"])
    parser.add_argument("--db", metavar="URL", help="database URL (default: config, else sqlite:///bureau.db)")
    parser.add_argument("--config", metavar="FILE", help="bureau config (TOML) for the database URL")
    parser.add_argument("--format", choices=["csv", "json", "html"], default="csv")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="results/nonconformities: first day")
    parser.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="results/nonconformities: last day")
    parser.add_argument("--min-agreement", type=_fraction, default=0.9, metavar="FRACTION",
                        help="lab: flag units and models agreeing with the lab less than this (default 0.9)")
    parser.add_argument("--silent-after", type=float, default=900.0, metavar="SECONDS",
                        help="units: an online unit heard from longer ago than this is 'silent' (default 900)")


def run(args: argparse.Namespace) -> int:
    from host.bureau.migrations import open_database
    from host.bureau.reports import REPORTS, render

    options: dict = {}
    if args.report in ("results", "nonconformities"):
        options = {"since": args.since, "until": args.until}
    elif args.report == "lab":
        options = {"min_agreement": args.min_agreement}
    elif args.report == "units":
        options = {"silent_after_s": args.silent_after}
    with open_database(database_url(args)) as db:
        report = REPORTS[args.report](db, **options)
    text = render(report, args.format)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"{args.out}: {args.report} report ({args.format})", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
