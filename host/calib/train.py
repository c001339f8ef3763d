"""``nir-host train``: from the shared real data to a signed model package and its report.

One run = load the head's training data → grouped CV by item (nested limits) → unknown and
black-item checks → quantities (hold out whole composition levels) → fit the final model on
everything → export one ONNX graph → parity check → manifest → signed package → HTML report.
Seeds are fixed, so `make models` rebuilds the same figures from the same data.
"""
from __future__ import annotations

import hashlib
import io
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from firmware.contracts import is_degradable
from firmware.optics import fpi_optics, led8_optics

from . import datasets
from .chain import OUTPUT_DOC, SpectralChain
from .export import INPUT_NAME, PARITY_TOLERANCE, check_parity, to_onnx
from .identify import Identifier, default_preprocessing
from .instrument import Augmentation, add_noise
from .metrics import regression_metrics, verdict_metrics
from .preprocess import SNV
from .quantify import QuantityModel
from .validate import FitSettings, HeadReadings, LimitPolicy, SourceSpectra, grouped_cv, oof_outputs, \
    limits_from_oof

from sklearn.pipeline import Pipeline

#: A label becomes a model class only with at least this many physical items: fewer cannot be
#: cross-validated by item, and a class learnt from 1–4 items would be a promise we cannot check.
MIN_ITEMS_PER_CLASS = 5
LIBRARY_FILE = "library.npz"
SEED = 20260427
#: Source spectra are kept this far beyond the FPI's source range, so training can shift the
#: channels (augmentation ±4 nm) and adaptation can model units up to ±12 nm off.
SOURCE_MARGIN_NM = 12.0


@dataclass
class HeadData:
    """Everything a head's training run needs, in one place."""

    head: str
    name: str
    wavelengths_nm: np.ndarray
    source: SourceSpectra | HeadReadings
    labels: np.ndarray
    groups: np.ndarray
    colours: np.ndarray
    classes: list[str]
    known_rows: np.ndarray
    extra_rows: np.ndarray
    black_rows: np.ndarray
    settings: FitSettings
    reference_spectra: dict
    provenance: dict
    library: dict[str, np.ndarray] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _classes(labels, groups, rows) -> list[str]:
    items: dict[str, set] = {}
    for lab, g in zip(labels[rows], groups[rows]):
        items.setdefault(lab, set()).add(g)
    return sorted(c for c, s in items.items() if len(s) >= MIN_ITEMS_PER_CLASS)


def _split_rows(labels, groups, colours):
    usable = np.array([c != "black" for c in colours]) & (labels != "")
    classes = _classes(labels, groups, np.flatnonzero(usable))
    known = np.flatnonzero(usable & np.isin(labels, classes))
    extra = np.flatnonzero(usable & ~np.isin(labels, classes))
    black = np.flatnonzero(np.array([c == "black" for c in colours]))
    return classes, known, extra, black


def _reference(values, wl, labels, rows, classes) -> dict:
    ref = {}
    for c in classes:
        r = rows[labels[rows] == c]
        ref[c] = {"wavelengths_nm": [round(float(w), 3) for w in wl],
                  "mean": [round(float(v), 5) for v in values[r].mean(axis=0)],
                  "sd": [round(float(v), 5) for v in values[r].std(axis=0, ddof=1)]}
    return ref


def _append_library(table, library):
    """Add a technician's continuous spectra (e.g. PBAT or starch blends measured in their lab)
    to the Avantes table, on the Avantes grid; items keep their own ``sample_id``s."""
    from firmware.optics import resample
    from firmware.spectra_csv import SpectraTable
    vals = library.values / 100.0 if np.nanmedian(library.values) > 5 else library.values
    vals = resample(library.wavelengths_nm, vals, table.wavelengths_nm, what=f"library {library.source}")
    meta = {k: list(table.meta[k]) for k in ("sample_id", "label", "colour")}
    meta["sample_id"] += [f"lib-{s}" for s in library.sample_ids]
    meta["label"] += list(library.labels)
    meta["colour"] += list(library.colours)
    return SpectraTable(table.wavelengths_nm, np.vstack([table.values, vals]), meta, source=table.source)


def load_fpi(data_dir: Path, quick: bool = False, library=None) -> HeadData:
    """``fpi`` identification data: the 2023-04-19 Avantes spectra seen through the FPI optics.

    The 2022-10-03 Avantes set stops at 1749 nm (the FPI needs 1514–1886 nm) and the reference
    box C runs are raw counts without dark (dark ≈ half the tile signal at 1700 nm in the
    2023-04-19 files of the same spectrometer), so neither is used.
    """
    table = datasets.read_avantes_fifth(data_dir)
    optics = fpi_optics()
    lo, hi = optics.source_range_nm
    lo, hi = lo - SOURCE_MARGIN_NM, hi + SOURCE_MARGIN_NM  # room for shifted and adapted units
    wl = table.wavelengths_nm
    i0 = max(0, int(np.searchsorted(wl, lo)) - 1)
    i1 = min(wl.size, int(np.searchsorted(wl, hi)) + 1)
    table = table.subset(np.arange(len(table)))
    table.values, table.wavelengths_nm = table.values[:, i0:i1], wl[i0:i1]
    if library is not None:
        table = _append_library(table, library)
    wl_src, vals = table.wavelengths_nm, table.values
    labels, groups = table.labels, table.sample_ids
    colours = np.array(table.colours, dtype=object)
    classes, known, extra, black = _split_rows(labels, groups, colours)
    aug = Augmentation(copies=3 if quick else 6, max_shift_nm=4.0)
    settings = FitSettings(augmentation=aug, n_components=20)
    prov = {"identification": {"source": datasets.AVANTES_FIFTH, "sha256": _sha256(Path(data_dir) / datasets.AVANTES_FIFTH),
                               "instrument": "Avantes AvaSpec-NIR256-2.0TEC, simulated through firmware.optics.fpi_optics",
                               "licence": "Plastic Scanner open data, no licence stated"}}
    library = {"fpi_source_wavelengths_nm": wl_src.astype(np.float32), "fpi_source_values": vals[known].astype(np.float32),
               "labels": labels[known].astype(str), "groups": groups[known].astype(str)}
    return HeadData("fpi", "fpi-1550-1850-v1", optics.channels_nm, SourceSpectra(optics, wl_src, vals), labels, groups,
                    colours, classes, known, extra, black, settings,
                    _reference(vals, wl_src, labels, known, classes), prov, library)


def load_led8(data_dir: Path, quick: bool = False) -> HeadData:
    """``led8`` identification data: the real 8-LED readings, each file over its white reference."""
    table = datasets.read_led8(data_dir)
    labels, groups = table.labels, table.sample_ids
    colours = np.array(table.colours, dtype=object)
    classes, known, extra, black = _split_rows(labels, groups, colours)
    settings = FitSettings(augmentation=Augmentation(copies=2 if quick else 4, snr=300.0), test_shift_nm=0.0,
                           test_snr=np.inf, n_components=6,
                           make_identifier=lambda: Identifier(Pipeline([("snv", SNV())]), n_components=6))
    prov = {"identification": {"source": datasets.LED8_COMBINED, "sha256": _sha256(Path(data_dir) / datasets.LED8_COMBINED),
                               "instrument": "Plastic Scanner DB2.1/DB2.2/DB2.3 boards and handheld, each file "
                                             "normalised to its own white reference",
                               "licence": "Plastic Scanner open data, no licence stated"}}
    library = {"led8_values": table.values[known].astype(np.float32), "labels": labels[known].astype(str),
               "groups": groups[known].astype(str)}
    return HeadData("led8", "led8-8band-v1", led8_optics().channels_nm, HeadReadings(table.values), labels, groups,
                    colours, classes, known, extra, black, settings,
                    _reference(table.values, table.wavelengths_nm, labels, known, classes), prov, library)


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


def identification_metrics(data: HeadData, res, extra_preds, black_preds) -> dict:
    degr_truth = np.array([is_degradable(l) for l in res.labels])
    m = verdict_metrics(res.labels, res.verdicts, res.classes_out, data.classes,
                        degradable_truth=degr_truth,
                        degradable_pred=[is_degradable(c) if c else None for c in res.classes_out],
                        min_items_for_f1=MIN_ITEMS_PER_CLASS, groups=res.groups)
    if extra_preds:
        v = np.array([[p.verdict for p in fold] for fold in extra_preds])
        m["unknown_rejection_rate"] = float((v != "identified").mean())
        m["unknown_materials"] = sorted(set(data.labels[data.extra_rows]))
    if black_preds:
        v = np.array([[p.verdict for p in fold] for fold in black_preds])
        m["dark_abstention_rate"] = float((v != "identified").mean())
        m["n_black_rows"] = int(v.shape[1])
    # specificity of the degradable call among known non-degradable rows
    if "PLA" in data.classes:
        pla = res.labels == "PLA"
        said = np.array([c == "PLA" for c in res.classes_out])
        m["pla_sensitivity"] = float(said[pla].mean())
        m["pla_specificity"] = float((~said[~pla]).mean())
    # the classifier alone (arg-max score, no reject option): comparable to a plain baseline
    argmax = np.asarray(data.classes, dtype=object)[np.argmax(res.scores, axis=1)]
    m["classifier_only_accuracy"] = float(np.mean(argmax == res.labels))
    n_items = {c: len(set(res.groups[res.labels == c])) for c in data.classes}
    m.update({"n_spectra": int(len(res.labels)), "n_items": n_items, "n_folds": len(res.folds),
              "validation": f"grouped {len(res.folds)}-fold CV by physical item, limits from an inner grouped CV; "
                            f"test spectra with a random wavelength shift in ±{data.settings.test_shift_nm:g} nm"})
    return m


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
    ident_metrics = identification_metrics(data, res, extra_preds, black_preds)
    progress(f"{head}: grouped CV accuracy {ident_metrics['accuracy']:.4f}, macro-F1 {ident_metrics['macro_f1']:.4f}")

    progress(f"{head}: fitting the final model on all items (limits from the grouped CV's held-out values)")
    rng = np.random.default_rng(SEED + 99)
    limits = limits_from_oof(res.outputs, res.labels, np.array(data.classes), data.settings.policy)
    X, idx = data.source.train(data.known_rows, data.settings.augmentation, rng)
    ident = data.settings.identifier().fit(X, data.labels[idx])
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
    manifest = build_manifest(data, chain, limits, quantities, metrics, data_dir)
    buf = io.BytesIO()
    np.savez_compressed(buf, **data.library, settings=np.array(json.dumps(_library_settings(data))))
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


def _library_settings(data: HeadData) -> dict:
    a = data.settings.augmentation
    return {"head": data.head, "augmentation": {"copies": a.copies, "max_shift_nm": a.max_shift_nm, "gain": a.gain,
                                                "offset": a.offset, "snr": a.snr},
            "n_components": data.settings.n_components, "preprocessing": "snv" if data.head == "led8" else "snv+sg9d1",
            "policy": data.settings.policy.__dict__, "test_shift_nm": data.settings.test_shift_nm}


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
                   data_dir: Path) -> dict:
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
        "preprocessing": "SNV, Savitzky–Golay 1st derivative (9 points, order 2)" if data.head == "fpi" else "SNV",
        "classifier": f"PCA ({ident.pca_.n_components_} components) + LDA; per-class Ledoit–Wolf Mahalanobis distance",
        "verdict_rules": "unknown if t2 > limits.t2 or q > limits.q; a class accepts if class_distance <= "
                         "limits.class_distance[class] and score >= limits.min_score; none accepts: unknown; one: "
                         "identified; several: ambiguous (firmware/inference.py)",
        "provenance": {**data.provenance, "versions": _versions(), "seed": SEED,
                       "note": "trained on openly published measurements (Plastic Scanner, no licence stated; NIST, "
                               "cite Li et al., https://datapub.nist.gov/od/id/mds2-3809); production use needs a "
                               "library measured on the unit type",
                       **({"quantities": {"source": datasets.NIST_WIDE,
                                          "sha256": _sha256(Path(data_dir) / datasets.NIST_WIDE),
                                          "licence": "NIST (cite the data DOI above)"}}
                          if quantities else {})},
    }

