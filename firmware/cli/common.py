"""Options every device command shares (``--state-dir``, ``--config``) and how they are resolved.

Not a command module (no ``cmd_`` prefix): the dispatcher does not list it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import DeviceConfig, load_config
from ..errors import JournalError
from ..journal import JOURNAL_FILE, Journal
from ..state_dir import resolve_state_dir


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", metavar="DIR",
                        help="journal, unit key, references, outbox (default: $STATE_DIRECTORY, else state/device)")


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="device config (TOML); default: $PLASTINIR_CONFIG, else built-in defaults")


def add_common(parser: argparse.ArgumentParser) -> None:
    add_state_dir(parser)
    add_config(parser)


def config_from(args: argparse.Namespace) -> DeviceConfig:
    return load_config(getattr(args, "config", None))


def state_dir_from(args: argparse.Namespace, *, create: bool = True) -> Path:
    return resolve_state_dir(getattr(args, "state_dir", None), create=create)


def open_existing_journal(args: argparse.Namespace, config: DeviceConfig) -> Journal:
    """The journal of ``--state-dir`` for commands that only read it: never creates an empty one."""
    state_dir = state_dir_from(args, create=False)
    if not (state_dir / JOURNAL_FILE).exists():
        raise JournalError(f"{state_dir}: no journal here ({JOURNAL_FILE} missing); is --state-dir right?")
    return Journal.open(state_dir, busy_timeout_s=config.journal.busy_timeout_s)
