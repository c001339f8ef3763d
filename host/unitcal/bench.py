"""Whoever puts the standards on the port.

`GuidedBench` is the technician at a real unit: it says what to place and, in the interactive
mode, waits for Enter ("place the white tile, press Enter"); with ``--non-interactive`` it only
says it (for a sample changer or a script that places the standards itself).
"""
from __future__ import annotations

import sys
from typing import Any, Callable


class GuidedBench:
    def __init__(self, *, interactive: bool, ask: Callable[[str], str] = input,
                 say: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> None:
        self.interactive = interactive
        self.ask = ask
        self.say = say

    def place(self, spec: str, instruction: str, item: Any = None) -> None:
        self.say(f"→ {instruction}")
        if self.interactive:
            try:
                self.ask("  press Enter when it is in place (Ctrl-C aborts) ")
            except EOFError:
                raise SystemExit("no technician at the terminal: use --non-interactive") from None
