"""``python -m bench [--quick] [--only NAME] [--out FILE]``: run every benchmark, print one table.

The table has one row per figure: name, value, unit, ratio against its reference (measured in
the same run) and the machine it ran on. It is printed and written as Markdown (for
docs/PERFORMANCE.md) to ``--out`` (default ``bench/results/latest.md``, gitignored) with a JSON
twin next to it (``latest.json``); ``--out -`` only prints.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

import bench
from bench import Figure

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"


def fmt(v: float | None) -> str:
    if v is None:
        return ""
    if v == 0 or 0.01 <= abs(v) < 1e5:
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return f"{v:.3e}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (the smoke test uses this)")
    parser.add_argument("--only", action="append", default=[], help="run only bench_<NAME> (repeatable)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help=f"write the table as Markdown here and JSON beside it (default {DEFAULT_OUT}; "
                             "'-': print only)")
    args = parser.parse_args(argv)

    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    if args.only:
        unknown = [o for o in args.only if o not in names and f"bench_{o}" not in names]
        if unknown:
            parser.error(f"no benchmark {', '.join(unknown)}; known: "
                         f"{', '.join(n.removeprefix('bench_') for n in names)}")
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    started = time.perf_counter()
    rows: list[tuple[str, Figure]] = []
    failed: list[str] = []
    for name in names:
        print(f"# {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            figures = importlib.import_module(f"bench.{name}").run(quick=args.quick)
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        rows += [(name, f) for f in figures]
        print(f"#   {len(figures)} figures in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    host = machine()
    header = "| benchmark | figure | value | unit | ratio | ratio against | target |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    for name, f in rows:
        lines.append(f"| {name.removeprefix('bench_')} | {f.name} | {fmt(f.value)} | {f.unit} | "
                     f"{fmt(f.ratio)} | {f.reference} | {f.target} |")
    table = "\n".join(lines) + f"\n\nMachine: {host}\n"
    print(table)
    if args.out != "-":
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        mode = "quick" if args.quick else "full"
        out.write_text(f"{mode} run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                       f"{time.perf_counter() - started:.0f} s\n\n{table}")
        out.with_suffix(".json").write_text(json.dumps(
            {"machine": host, "mode": mode, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "failed": failed, "figures": [{"benchmark": n, **f.__dict__} for n, f in rows]}, indent=2))
        print(f"written to {out} and {out.with_suffix('.json')}", file=sys.stderr)
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
