"""``nir-device id``: the unit id and public key, for registering the unit at the bureau."""
from __future__ import annotations

import argparse
import json

from ..identity import load_identity
from .common import add_common, config_from, state_dir_from

HELP = "print the unit id and its Ed25519 public key (creates the key on first use)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--json", action="store_true", help='print {"unit", "public_key"} as JSON')


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    identity = load_identity(state_dir_from(args), config.unit)
    if args.json:
        print(json.dumps(identity.as_json(), sort_keys=True))
    else:
        print(f"unit: {identity.unit}\npublic_key: {identity.public_key}")
        print(f"register it at the bureau: nir-host units add {identity.unit} --public-key {identity.public_key}")
    return 0
