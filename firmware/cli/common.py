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


# --- commands that drive the device (measure, reference, selftest, run, demo) -------------------

def add_sim(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim", action="store_true",
                        help="use the register-level simulator (else config hardware.backend / PLASTINIR_BACKEND)")


def setup_logging(verbose: bool = False) -> None:
    """Log lines on stderr (systemd's journal in service): stdout stays for results."""
    import logging
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def open_runtime(args: argparse.Namespace, owner: str, overrides: dict | None = None):
    """Config (``--config`` + ``overrides``), backend (``--sim``) and state dir → a started-not
    `DeviceRuntime` holding the hardware lock (`DeviceBusy` if another process has it)."""
    from ..runtime import DeviceRuntime
    config = load_config(getattr(args, "config", None), overrides or None)
    return DeviceRuntime(config, state_dir=state_dir_from(args), backend="sim" if getattr(args, "sim", False) else None,
                         owner=owner, config_path=getattr(args, "config", None), overrides=overrides)


def require_sim(runtime, what: str):
    """The simulator handle, or a `ConfigError` naming the options that need it."""
    from ..errors import ConfigError
    sim = runtime.board.sim if runtime.board is not None else None
    if sim is None:
        if runtime.board is None:
            raise ConfigError(f"{what}: the board is not open ({runtime.state.reason})")
        raise ConfigError(f"{what} need the simulator (--sim, hardware.backend = \"sim\" or PLASTINIR_BACKEND=sim)")
    return sim


def model_package(runtime):
    """The package of the model in service (its classes name the simulator's samples), or None."""
    active = runtime.models.current()
    return getattr(active.model, "package", None) if active is not None else None
