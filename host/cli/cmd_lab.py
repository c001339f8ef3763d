"""``nir-host lab import FILE.csv``: laboratory results for the bureau's lab comparison report."""
from __future__ import annotations

import argparse

from .cmd_units import database_url

HELP = "import laboratory results (CSV: sample_id, lab label, lab method, date) for 'report lab'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="import a lab results CSV (all rows or none)")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--db", metavar="URL", help="database URL (default: config, else sqlite:///bureau.db)")
    imp.add_argument("--config", metavar="FILE", help="bureau config (TOML) for the database URL")


def run(args: argparse.Namespace) -> int:
    from host.bureau.lab_import import import_lab_results
    from host.bureau.migrations import open_database

    with open_database(database_url(args)) as db:
        counts = import_lab_results(db, args.file)
    print(f"{args.file}: {counts['added']} added, {counts['updated']} updated, {counts['unchanged']} unchanged")
    return 0
