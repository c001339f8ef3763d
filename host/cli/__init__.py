"""``nir-host``: the workstation and bureau command line.

Subcommands are modules ``cmd_<name>.py`` here, found automatically (same rules as
``nir-device``, see `firmware.cli`).
"""
from __future__ import annotations

import sys
from typing import Sequence

from firmware.cli import build_parser, dispatch

PROG = "nir-host"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(PROG, "PlastiNIR host tools: calibration, unit transfer, bureau.", __name__, __path__)
    return dispatch(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
