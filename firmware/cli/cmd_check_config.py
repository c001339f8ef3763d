"""``nir-device check-config``: validate the config for systemd's ``ExecStartPre=``."""
from __future__ import annotations

import argparse
import json

from ..config import load_config

HELP = "validate a device config file; exit 1 naming file, key, value and reason"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="device config (TOML); default: built-in defaults")
    parser.add_argument("--json", action="store_true", help="print the effective config as JSON")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.json:
        print(json.dumps(config.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        print(f"{args.config or '<defaults>'}: ok")
    return 0
