"""``python -m soak [--duration S] [--seed N] [--devices N] …``: the soak (see `soak`), its counts, its verdict.

Exit status 0 when every check passed, 1 when one failed (the work directory with every log,
journal and the broker's files is then kept and named), 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import chaos
from .run import Options, Report, run_soak


def parse_args(argv=None) -> Options:
    p = argparse.ArgumentParser(prog="python -m soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=300.0, metavar="S",
                   help="seconds the fleet measures, the first 10 quiet, then under chaos (setting up the fleet "
                        "and the final drain come on top; default 300)")
    p.add_argument("--seed", type=int, default=1, help="seeds the chaos schedule and the simulated units (default 1)")
    p.add_argument("--devices", type=int, default=3, metavar="N", help="simulated units (default 3)")
    p.add_argument("--press-every", type=float, default=0.5, metavar="S",
                   help="each unit's trigger button is pressed every S seconds (default 0.5)")
    p.add_argument("--plan", metavar="A,B,…",
                   help=f"chaos actions in this order, then at random among them; known: {', '.join(chaos.WEIGHTS)}")
    p.add_argument("--work-dir", type=Path, metavar="DIR", help="keep everything here (default: a temporary "
                                                                "directory, removed unless a check fails)")
    p.add_argument("--keep", action="store_true", help="keep the work directory even when every check passes")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.devices < 2:
        p.error("--devices must be at least 2 (one unit's record goes to another's topic)")
    plan = [a.strip() for a in args.plan.split(",")] if args.plan else None
    if plan and any(a not in chaos.WEIGHTS for a in plan):
        p.error(f"--plan: unknown action(s) {[a for a in plan if a not in chaos.WEIGHTS]}; known: "
                f"{', '.join(chaos.WEIGHTS)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s",
                        stream=sys.stderr)
    return Options(duration_s=args.duration, seed=args.seed, devices=args.devices, press_every_s=args.press_every,
                   plan=plan, work_dir=args.work_dir, keep=args.keep)


def format_report(report: Report, options: Options) -> str:
    lines = [f"soak: {options.devices} units ({', '.join(report.fleet)}), 2 ingesters on PostgreSQL, Mosquitto; "
             f"{options.duration_s:.0f} s measuring (chaos after the first {options.warmup_s:.0f}), seed {options.seed}; "
             f"{report.seconds:.0f} s in all", "",
             "| count | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report.counts.items()]
    lines += [f"| restarts: {k} | {v} |" for k, v in report.restarts.items()]
    lines += ["", f"chaos actions: {len(report.actions)}"]
    if report.failures:
        lines += ["", f"FAILED: {len(report.failures)} check(s)"] + [f"  - {f}" for f in report.failures]
    else:
        lines += ["", "every check passed: every acknowledged result stored exactly once and byte-identical to the "
                      "unit's journal, no seq reused, no gap open, every fault and bad payload where it belongs"]
    if report.work_dir is not None:
        lines.append(f"work directory kept: {report.work_dir}")
    return "\n".join(lines)


def main(argv=None) -> int:
    options = parse_args(argv)
    report = run_soak(options)
    print(format_report(report, options))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
