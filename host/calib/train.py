"""``nir-host train``: from the shared real data to a signed model package and its report.

One run = load the head's training data (`host.calib.headdata`) → nested grouped CV by item
(identifier choice, score temperature and limits inside each training fold) → robustness,
unknown-material and black-item figures (`host.calib.cvmetrics`) → quantities (hold out whole
composition levels) → choose and fit the final model on everything the same way → export one
ONNX graph → parity check → manifest → signed package → HTML report.
Seeds are fixed, so `make models` rebuilds the same figures from the same data.
"""
from __future__ import annotations

import io
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from firmware.contracts import is_degradable
from firmware.optics import fpi_optics

from . import datasets
from .chain import OUTPUT_DOC, SpectralChain
from .cvmetrics import identification_metrics
from .export import INPUT_NAME, PARITY_TOLERANCE, check_parity, to_onnx
from .headdata import (MIN_ITEMS_PER_CLASS, HeadData, load_fpi, load_led8,  # noqa: F401 (re-exported)
                       _sha256)
from .identify import IdentifierConfig
from .instrument import Augmentation, add_noise
from .metrics import regression_metrics
from .preprocess import SNV
from .quantify import QuantityModel
from .select import select_and_fit
from .validate import SourceSpectra, grouped_cv, limits_from_oof

from sklearn.pipeline import Pipeline

#: Where the package keeps the preprocessed training library that adaptation needs.
LIBRARY_FILE = "library.npz"
SEED = 20260427


# --- quantities -------------------------------------------------------------------------------

@dataclass
class QuantityResult:
    name: str
    column: str
    model: QuantityModel
    manifest: dict
    metrics: dict
    y_true: np.ndarray
    y_pred: np.ndarray


def train_pp_quantity(data_dir: Path, progress: Callable[[str], None], quick: bool = False) -> QuantityResult:
    """PP wt % in HDPE/PP blends (NIST FT-NIR series through the FPI optics), SNR 1000.

    Validation holds out one whole composition level at a time (the issue's rule), and the
    number of PLS components is chosen inside each training set, never on the held-out level.
    """
    table = datasets.read_nist(data_dir)
    rows = np.flatnonzero(np.asarray(table.meta["blend"]) == "HDPE/PP")
    optics = fpi_optics()
    src = SourceSpectra(optics, table.wavelengths_nm, table.values[rows])
    y = table.quantity("y_pp_wt_pct")[rows]
    levels = np.unique(y)
    rng = np.random.default_rng(SEED)
    aug = Augmentation(copies=2 if quick else 4, max_shift_nm=0.0, gain=(0.7, 1.4), offset=(-0.02, 0.02), snr=1000.0)
    ks = [4, 6, 8] if quick else list(range(3, 11))
    nominal = src.nominal(np.arange(len(y)))

    def fit_eval(train_idx, test_idx, k):
        X, idx = src.train(train_idx, aug, rng)
        m = QuantityModel(Pipeline([("snv", SNV())]), n_components=k).fit(X, y[idx])
        return m, m.outputs(add_noise(nominal[test_idx], 1000.0, rng))

    def choose_k(train_idx):
        errs = {k: [] for k in ks}
        for lev in np.unique(y[train_idx]):
            te = train_idx[y[train_idx] == lev]
            tr = train_idx[y[train_idx] != lev]
            for k in ks:
                errs[k].append(fit_eval(tr, te, k)[1]["value"] - y[te])
        return min(ks, key=lambda k: np.sqrt(np.mean(np.concatenate(errs[k]) ** 2)))

    pred = np.zeros(len(y))
    oof = {"t2": np.zeros(len(y)), "q": np.zeros(len(y))}
    chosen = []
    for i, lev in enumerate(levels):
        progress(f"PP wt %: holding out level {lev:g} % ({i + 1}/{len(levels)})")
        te, tr = np.flatnonzero(y == lev), np.flatnonzero(y != lev)
        k = choose_k(tr)
        chosen.append(k)
        _, o = fit_eval(tr, te, k)
        pred[te] = o["value"]
        oof["t2"][te], oof["q"][te] = o["t2"], o["q"]
    k_final = int(np.bincount(chosen).argmax())
    X, idx = src.train(np.arange(len(y)), aug, rng)
    model = QuantityModel(Pipeline([("snv", SNV())]), n_components=k_final).fit(X, y[idx])
    reg = regression_metrics(y, pred)
    manifest = {
        "name": "pp_wt_pct", "column": "y_pp_wt_pct", "unit": "wt %", "valid_range": [0.0, 100.0],
        "applies_to": ["HDPE", "PP"],
        "description": "PP weight fraction of an HDPE/PP blend (calibrated on the NIST HDPE/PP filament series)",
        "limits": {"t2": float(np.quantile(oof["t2"], 0.995) * 1.5), "q": float(np.quantile(oof["q"], 0.995) * 1.5),
                   "range_margin": 5.0},
        "uncertainty": {"model": "rmsecv * sqrt(1 + t2 / n_train)", "rmsecv": reg["rmsep"], "n_train": int(len(y))},
        "n_components": k_final,
    }
    metrics = {"rmsep": reg["rmsep"], "bias": reg["bias"], "slope": reg["slope"], "n": reg["n"],
               "validation": "hold out one whole composition level at a time (11 levels, 0–100 %), "
                             "components chosen inside each training set; SNR 1000",
               "components_chosen": chosen}
    return QuantityResult("pp_wt_pct", "y_pp_wt_pct", model, manifest, metrics, y, pred)


# --- the run --------------------------------------------------------------------------------

def _versions() -> dict:
    import onnx
    import onnxruntime
    import skl2onnx
    import sklearn
    return {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def train(head: str, data_dir: Path, out: Path, key, *, progress: Callable[[str], None] = print,
          quick: bool = False, report: Path | None | bool = None, library=None, quantities: bool = True) -> tuple:
    """Train, validate, export and sign one head's package; returns (package, report path).

    ``library`` (a `SpectraTable` of continuous spectra covering the FPI source range) adds a
    technician's own spectra, e.g. a degradable class without public data; ``report=False``
    skips the HTML report and ``quantities=False`` the PP wt % calibration.
    """
    t0 = time.perf_counter()
    if library is not None and head != "fpi":
        raise ValueError("a technician library of continuous spectra can only be added to the fpi head")
    data = load_fpi(data_dir, quick, library) if head == "fpi" else load_led8(data_dir, quick)
    progress(f"{head}: {len(data.known_rows)} spectra of {len(set(data.groups[data.known_rows]))} items in "
             f"classes {', '.join(data.classes)}; {len(data.extra_rows)} spectra of other materials; "
             f"{len(data.black_rows)} black")
    res, extra = grouped_cv(data.source, data.known_rows, data.labels, data.groups, data.settings,
                            n_splits=5, seed=SEED, progress=progress,
                            extra_rows=np.r_[data.extra_rows, data.black_rows].astype(int))
    n_extra = len(data.extra_rows)
    extra_preds = [fold[:n_extra] for fold in extra] if n_extra else []
    black_preds = [fold[n_extra:] for fold in extra] if len(data.black_rows) else []
    ident_metrics = identification_metrics(data, res, extra_preds, black_preds,
                                           suspect_labels=data.suspect_labels, seed=SEED)
    progress(f"{head}: grouped CV accuracy {ident_metrics['accuracy']:.4f}, macro-F1 {ident_metrics['macro_f1']:.4f}")

    rng = np.random.default_rng(SEED + 99)
    fit_rows, excluded = data.settings.training_rows(data.source, data.known_rows, data.labels, data.groups)
    if data.settings.library_qc is not None and "library_qc" in ident_metrics:
        ident_metrics["library_qc"]["excluded_final"] = excluded
    if excluded:
        progress(f"{head}: library QC leaves out of the final fit: "
                 + ", ".join(f"{g} ({v['label']}, band depth {v['band_depth']:.2f})" for g, v in excluded.items()))
        _drop_from_library(data.library, excluded)
    if data.settings.candidates or data.settings.calibrate_scores:
        n_cand = len(data.settings.candidates)
        progress(f"{head}: " + (f"choosing and fitting the final model on all items (grouped 5-fold CV over "
                                f"{n_cand} candidate(s)" if n_cand else
                                "fitting the final model on all items (grouped 5-fold CV")
                 + "; limits and score temperature from its held-out values)")
        fit = select_and_fit(data.source, fit_rows, data.labels, data.groups, data.settings, rng,
                             n_splits=5, seed=SEED + 99)
        ident, limits, chosen = fit.identifier, fit.limits, fit.config
        final = {"chosen": chosen.name if chosen else "fixed", "temperature": round(fit.temperature, 4),
                 "held_out": fit.table}
        ident_metrics.setdefault("selection", {})["final"] = final
        if fit.floor_detail:
            ident_metrics["degradable_floor"]["final"] = fit.floor_detail
        progress(f"{head}: final model {final['chosen']}, score temperature {fit.temperature:.3g}"
                 + (f", degradable score floor {fit.floor_detail['floor']:g}" if fit.floor_detail else ""))
    else:
        progress(f"{head}: fitting the final model on all items (limits from the grouped CV's held-out values)")
        keep = np.isin(res.rows, fit_rows)
        limits = limits_from_oof({k: v[keep] for k, v in res.outputs.items()}, res.labels[keep],
                                 np.array(data.classes), data.settings.policy)
        X, idx = data.source.train(fit_rows, data.settings.augmentation, rng)
        ident, chosen = data.settings.identifier().fit(X, data.labels[idx]), None
    want_quantities, quantities = quantities, []
    if head == "fpi" and want_quantities:
        quantities.append(train_pp_quantity(data_dir, progress, quick))
        data.library.update(_quantity_library(data_dir))
    chain = SpectralChain(ident, [(q.name, q.model) for q in quantities])
    onnx_bytes = to_onnx(chain, len(data.wavelengths_nm)).SerializeToString()
    check_rows = data.source.nominal(data.known_rows[:: max(1, len(data.known_rows) // 200)])
    parity = check_parity(chain, onnx_bytes, check_rows)
    progress(f"{head}: ONNX parity with scikit-learn OK (largest differences {json.dumps({k: float(f'{v:.2g}') for k, v in parity.items()})})")

    metrics = {"identification": ident_metrics,
               "quantities": {q.name: q.metrics for q in quantities},
               "onnx_parity": {"max_abs_diff": parity, "tolerance": {k: {"atol": a, "rtol": r} for k, (a, r) in
                                                                      PARITY_TOLERANCE.items() if k in parity}}}
    manifest = build_manifest(data, chain, limits, quantities, metrics, data_dir, chosen)
    buf = io.BytesIO()
    np.savez_compressed(buf, **data.library, settings=np.array(json.dumps(_library_settings(data, chosen))))
    from host.package_writer import write_package
    package = write_package(out, manifest, onnx_bytes, key, {LIBRARY_FILE: buf.getvalue()})
    progress(f"{head}: package written to {out} ({package.sha256[:12]}…)")
    report_path = None
    if report is not False:
        from .report import write_report
        report_path = Path(report) if report else Path("reports") / f"{out.name}.report.html"
        write_report(report_path, package.manifest, res, quantities, data)
        progress(f"{head}: validation report {report_path}")
    return package, report_path


def _drop_from_library(library: dict[str, np.ndarray], excluded: dict) -> None:
    """The package's library is what the shipped model was trained on: items the library QC left
    out are not in it (the manifest's ``metrics.identification.library_qc`` names them), so
    adaptation re-trains on the same items and the simulator draws only those."""
    keep = ~np.isin(library["groups"], list(excluded))
    for key in ("fpi_source_values", "led8_values", "labels", "groups"):
        if key in library:
            library[key] = library[key][keep]


def _library_settings(data: HeadData, chosen: IdentifierConfig | None) -> dict:
    """What `host.calib.adapt` needs to re-train the same chain (``identifier``: the chosen config;
    ``library_qc``: the rule already applied to the library, for the record)."""
    a = data.settings.augmentation
    return {"head": data.head, "augmentation": {"copies": a.copies, "max_shift_nm": a.max_shift_nm, "gain": a.gain,
                                                "offset": a.offset, "snr": a.snr},
            "n_components": chosen.n_components if chosen else data.settings.n_components,
            "preprocessing": "snv" if data.head == "led8" else (chosen.name if chosen else "snv+sg9d1"),
            **({"identifier": chosen.to_dict()} if chosen else {}),
            "calibrate_scores": data.settings.calibrate_scores,
            "policy": data.settings.policy.__dict__, "test_shift_nm": data.settings.test_shift_nm,
            **({"library_qc": data.settings.library_qc.to_dict()} if data.settings.library_qc else {})}


def _quantity_library(data_dir: Path) -> dict[str, np.ndarray]:
    """The NIST HDPE/PP spectra on a 1 nm grid over the FPI source range, for `adapt`."""
    table = datasets.read_nist(data_dir)
    rows = np.flatnonzero(np.asarray(table.meta["blend"]) == "HDPE/PP")
    lo, hi = fpi_optics().source_range_nm
    grid = np.arange(np.floor(lo) - 10, np.ceil(hi) + 11, 1.0)
    from firmware.optics import resample
    return {"pp_wt_pct_wavelengths_nm": grid.astype(np.float32),
            "pp_wt_pct_values": resample(table.wavelengths_nm, table.values[rows], grid).astype(np.float32),
            "pp_wt_pct_y": table.quantity("y_pp_wt_pct")[rows].astype(np.float32)}


def build_manifest(data: HeadData, chain: SpectralChain, limits: dict, quantities, metrics: dict,
                   data_dir: Path, chosen: IdentifierConfig | None = None) -> dict:
    ident = chain.identifier
    classes = [str(c) for c in ident.classes_]
    if classes != data.classes:
        raise AssertionError(f"model classes {classes} differ from the data's {data.classes}")
    return {
        "name": data.name, "version": "1", "head": data.head,
        "wavelengths_nm": [float(w) for w in data.wavelengths_nm],
        "input": {"name": INPUT_NAME, "units": "relative reflectance (fraction, 1.0 = white reference)",
                  "dtype": "float32", "shape": ["N", len(data.wavelengths_nm)]},
        "outputs": {n: OUTPUT_DOC[n] for n in chain.output_names()},
        "classes": classes,
        "degradable": {c: is_degradable(c) for c in classes},
        "limits": limits,
        "reference_spectra": data.reference_spectra,
        "quantities": [q.manifest for q in quantities],
        "metrics": metrics,
        "preprocessing": chosen.describe() if chosen else
        ("SNV, Savitzky–Golay 1st derivative (9 points, order 2)" if data.head == "fpi" else "SNV"),
        "classifier": f"PCA ({ident.pca_.n_components_} components) + LDA" +
                      (f", scores temperature-scaled (T = {ident.temperature_:.4g}, fitted on held-out items)"
                       if ident.temperature_ != 1.0 else "") + "; per-class Ledoit–Wolf Mahalanobis distance",
        "verdict_rules": "unknown if t2 > limits.t2 or q > limits.q; a class accepts if class_distance <= "
                         "limits.class_distance[class] and score >= limits.min_score; none accepts: unknown; several: "
                         "ambiguous; one: identified, unless its score is below limits.class_min_score[class] "
                         "(where given: the degradable classes, a false degradable call being the costliest "
                         "error), then unknown (firmware/inference.py)" + (
                             "; screening head (screening: true): an identification is a hint that decides what "
                             "goes to the lab, never a confirmation, and the status page says so with every verdict"
                             if data.screening else ""),
        "screening": data.screening,
        "provenance": {**data.provenance, "versions": _versions(), "seed": SEED,
                       "note": "trained on openly published measurements (Plastic Scanner, no licence stated; NIST, "
                               "cite Li et al., https://datapub.nist.gov/od/id/mds2-3809); production use needs a "
                               "library measured on the unit type",
                       **({"quantities": {"source": datasets.NIST_WIDE,
                                          "sha256": _sha256(Path(data_dir) / datasets.NIST_WIDE),
                                          "licence": "NIST (cite the data DOI above)"}}
                          if quantities else {})},
    }

