"""``nir-host units``: register units (their public keys) at the bureau and list them."""
from __future__ import annotations

import argparse
import json

HELP = "register a unit's public key at the bureau (units add) or list registered units (units list)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="register UNIT_ID with its public key")
    add.add_argument("unit", metavar="UNIT_ID")
    add.add_argument("--public-key", required=True, metavar="KEY",
                     help="base64 of the raw 32-byte Ed25519 key, as 'nir-device id --json' prints it")
    add.add_argument("--note", help="free text kept with the unit (owner, serial number)")
    add.add_argument("--replace", action="store_true", help="re-key a unit already registered with another key")
    add.add_argument("--db", metavar="URL", help="database URL (default: config, else sqlite:///bureau.db)")
    add.add_argument("--config", metavar="FILE", help="bureau config (TOML) for the database URL")
    lst = sub.add_parser("list", help="list registered units")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.add_argument("--db", metavar="URL", help="database URL (default: config, else sqlite:///bureau.db)")
    lst.add_argument("--config", metavar="FILE", help="bureau config (TOML) for the database URL")


def database_url(args: argparse.Namespace) -> str:
    """``--db``, else the config's ``db``, else the default: what every bureau command opens."""
    if args.db:
        return args.db
    from host.bureau.config import load_bureau_config
    return load_bureau_config(args.config).db


def run(args: argparse.Namespace) -> int:
    from host.bureau.migrations import open_database
    from host.bureau.units import add_unit, list_units

    with open_database(database_url(args)) as db:
        if args.action == "add":
            outcome = add_unit(db, args.unit, args.public_key, note=args.note, replace=args.replace)
            print(f"{args.unit}: {outcome}")
            return 0
        units = list_units(db)
    if args.json:
        print(json.dumps(units, indent=2))
        return 0
    if not units:
        print("no units registered")
        return 0
    print(f"{'unit':<20} {'registered':<25} {'by':<5} {'highest seq':>11} {'status':<8} last seen")
    for u in units:
        print(f"{u['unit']:<20} {u['registered_at']:<25} {u['registered_by']:<5} {u['highest_seq']:>11} "
              f"{u['status'] or '-':<8} {u['last_seen'] or '-'}")
    return 0
