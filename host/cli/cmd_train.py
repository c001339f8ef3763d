"""``nir-host train --head fpi|led8 [--data DIR] --out PKG``: build, validate and sign a model package."""
from __future__ import annotations

import sys
import time
from pathlib import Path

HELP = "train a model package for a head from the shared real data, with its HTML validation report"


def add_arguments(parser) -> None:
    parser.add_argument("--head", required=True, choices=["fpi", "led8"], help="optical head the model runs on")
    parser.add_argument("--data", default=None, help="data folder (default: $PLASTINIR_DATA or ../shared/data)")
    parser.add_argument("--out", required=True, type=Path, help="package folder to write")
    parser.add_argument("--key", default=None, help="issuer key file (default: $PLASTINIR_ISSUER_KEY)")
    parser.add_argument("--report", type=Path, default=None,
                        help="HTML report path (default: reports/<package>.report.html)")
    parser.add_argument("--library", type=Path, default=None,
                        help="spectra CSV of a technician's own continuous spectra to add (fpi; e.g. PBAT items)")
    parser.add_argument("--quick", action="store_true", help="fewer augmentation copies (smoke runs)")


def run(args) -> int:
    from host.calib.datasets import resolve_data_dir
    from host.calib.train import train
    from host.package_writer import issuer_key

    key = issuer_key(args.key)
    data = resolve_data_dir(args.data)
    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    library = None
    if args.library:
        from firmware.spectra_csv import read_spectra_csv
        library = read_spectra_csv(args.library)
    package, report = train(args.head, data, args.out, key, progress=progress, quick=args.quick,
                            report=args.report, library=library)
    ident = package.manifest["metrics"]["identification"]
    print(f"{package.name}: accuracy {ident['accuracy']:.4f}, macro-F1 {ident['macro_f1']:.4f}, "
          f"false rejection {ident['false_rejection_rate']:.4f}; report {report}")
    return 0
