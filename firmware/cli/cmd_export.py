"""``nir-device export``: results from the journal as a spectra CSV or as JSON lines.

Reads the journal beside a running ``nir-device run`` (it does not need the hardware lock).
A file given with ``--out`` is written to a temporary name and renamed when complete, so an
interrupted export never leaves a half file that looks whole.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ..contracts import VERDICTS
from ..journal import to_unix
from ..journal.export import export_csv, export_jsonl
from .common import add_common, config_from, open_existing_journal

HELP = "export journaled results as a spectra CSV (--format csv) or signed JSON lines (--format json)"


def _time(text: str) -> str:
    try:
        to_unix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="csv: spectra CSV (one model grid); json: one signed record per line")
    parser.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    parser.add_argument("--since", metavar="TIME", type=_time,
                        help="only results at or after TIME (2026-11-27 or RFC 3339, UTC)")
    parser.add_argument("--until", metavar="TIME", type=_time, help="only results before TIME")
    parser.add_argument("--verdict", choices=VERDICTS, help="only results with this verdict")
    parser.add_argument("--merchant", metavar="NAME", help="only results tagged with this merchant")
    parser.add_argument("--model", metavar="NAME", help="only results of this model (a CSV holds one grid)")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    filters = {"since": args.since, "until": args.until, "verdict": args.verdict, "merchant": args.merchant,
               "model": args.model}
    exporter = export_csv if args.format == "csv" else export_jsonl
    with open_existing_journal(args, config) as journal:
        if args.out is None:
            summary = exporter(journal, sys.stdout, **filters)
        else:
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                    summary = exporter(journal, fh, **filters)
                os.replace(tmp, out)
            except BaseException:
                os.unlink(tmp)
                raise
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(summary.skipped.items()))
    print(f"exported {summary.written} result(s)" + (f"; skipped without a complete spectrum: {skipped}"
                                                     if skipped else "") + (f" to {args.out}" if args.out else ""),
          file=sys.stderr)
    return 0
