"""``nir-host adapt --model PKG --standards FILE.csv --out PKG2``: fit a master model to one unit."""
from __future__ import annotations

import json
import sys
from pathlib import Path

HELP = "adapt a model package to one unit from its spectra of known standards, and re-sign it"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="master model package")
    parser.add_argument("--standards", required=True, type=Path,
                        help="spectra CSV of known items measured on the unit (at least one per class)")
    parser.add_argument("--out", required=True, type=Path, help="adapted package folder to write")
    parser.add_argument("--name", default=None, help="name of the adapted model (default: <name>-adapted)")
    parser.add_argument("--key", default=None, help="issuer key file (default: $PLASTINIR_ISSUER_KEY)")
    parser.add_argument("--trusted", default=None, help="file of trusted issuer keys for the master (default: verify only)")


def run(args) -> int:
    from firmware.inference import Model
    from firmware.spectra_csv import read_spectra_csv
    from host.calib.adapt import adapt
    from host.calib.trusted import read_trusted
    from host.package_writer import issuer_key, write_package

    key = issuer_key(args.key)
    model = Model.load(args.model, read_trusted(args.trusted) if args.trusted else None)
    table = read_spectra_csv(args.standards)
    manifest, onnx_bytes, files, summary = adapt(
        model, table, name=args.name, progress=lambda m: print(m, file=sys.stderr, flush=True))
    pkg = write_package(args.out, manifest, onnx_bytes, key, files)
    print(json.dumps({"package": str(args.out), "sha256": pkg.sha256, **summary}, indent=1))
    return 0
