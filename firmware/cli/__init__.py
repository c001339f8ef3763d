"""``nir-device``: the device's command line.

Each subcommand is a module ``cmd_<name>.py`` in this package defining ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; they are found automatically, so adding a
command never touches this file. Deliberate failures (`PlastiNIRError`) print one line naming
the cause on stderr and exit 1; stdout stays clean for ``--json`` output.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from typing import Sequence

from .. import __version__
from ..errors import PlastiNIRError

PROG = "nir-device"


def _commands(package: str, path) -> dict[str, object]:
    found = {}
    for info in pkgutil.iter_modules(path):
        if info.name.startswith("cmd_"):
            found[info.name[4:].replace("_", "-")] = importlib.import_module(f"{package}.{info.name}")
    return dict(sorted(found.items()))


def build_parser(prog: str, description: str, package: str, path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in _commands(package, path).items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except PlastiNIRError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`nir-device export | head`): not an error of ours, and Python's
        # flush at exit would only print a second traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(PROG, "PlastiNIR handheld NIR plastic identifier (device).", __name__, __path__)
    return dispatch(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
