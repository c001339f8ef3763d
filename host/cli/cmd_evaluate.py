"""``nir-host evaluate --model PKG --data FILE.csv [--json]``: score a spectra CSV as the device would.

Spectra on any covering grid are brought onto the model grid (`firmware.inference.to_model_grid`;
a grid much finer than the model's is treated as a continuous spectrum and measured through
the head's optics), scaled to a fraction when given in percent, then run through the exported
ONNX graph with onnxruntime and the device's verdict rules (`Model.predict`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HELP = "score a spectra CSV with a model package (ONNX through onnxruntime, device verdict rules)"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="model package folder or .zip")
    parser.add_argument("--data", required=True, type=Path, help="spectra CSV (interchange format)")
    parser.add_argument("--json", action="store_true", help="print one JSON object of metrics on stdout")
    parser.add_argument("--continuous", choices=["auto", "yes", "no"], default="auto",
                        help="treat spectra as continuous lab spectra measured through the head's optics "
                             "(auto: when their grid is finer than the model's)")
    parser.add_argument("--trusted", default=None,
                        help="file of trusted issuer public keys (default: skip the trust check, still verify)")


def _percent_to_fraction(values: np.ndarray) -> np.ndarray:
    """Relative reflectance may come in percent (DESIGN.md: any scale); the model takes fractions.

    A median above 5 cannot be a fraction of a white reference, so it is read as percent.
    """
    return values / 100.0 if np.nanmedian(values) > 5.0 else values


def evaluate(model, table, continuous: bool | None = None) -> dict:
    """The ``--json`` object for ``table`` (a `SpectraTable`); ``continuous=None`` decides from the grid."""
    from firmware.inference import to_model_grid
    from host.calib.metrics import regression_metrics, verdict_metrics

    wl = table.wavelengths_nm
    if continuous is None:
        # finer than the model's own channel spacing: a lab spectrum, not a head's reading
        model_step = np.median(np.diff(model.wavelengths_nm)) if model.wavelengths_nm.size > 1 else np.inf
        continuous = wl.size > 1 and np.median(np.diff(wl)) < 0.9 * model_step
    X = to_model_grid(wl, _percent_to_fraction(table.values), model, continuous=bool(continuous))
    out = model.run(X)
    preds = model.decide(out)
    metrics = verdict_metrics(table.labels, [p.verdict for p in preds], [p.class_ for p in preds], model.classes,
                              degradable_truth=table.degradable, degradable_pred=[p.degradable for p in preds],
                              colours=table.colours if ("colour" in table.meta or "color" in table.meta) else None)
    rmsep = {}
    for j, q in enumerate(model.quantities):
        col = q.get("column", f"y_{q['name']}")
        if col in table.meta:
            rmsep[col] = regression_metrics(table.quantity(col), out["composition"][:, j])["rmsep"]
    return {"n": int(len(table)), **metrics, "rmsep": rmsep}


def run(args) -> int:
    from firmware.inference import Model
    from firmware.spectra_csv import read_spectra_csv

    trusted = None
    if args.trusted:
        trusted = [l.strip() for l in Path(args.trusted).read_text().splitlines() if l.strip() and not l.startswith("#")]
    model = Model.load(args.model, trusted)
    table = read_spectra_csv(args.data)
    result = evaluate(model, table, {"auto": None, "yes": True, "no": False}[args.continuous])
    if args.json:
        json.dump(result, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
    else:
        for k, v in result.items():
            print(f"{k:24s} {v}")
    return 0
