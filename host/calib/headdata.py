"""A head's training data in one place: spectra, labels, items, classes, fit settings.

`load_fpi` simulates the ``fpi`` head from the 2023-04-19 Avantes spectra through the head's
optics; `load_led8` takes the real 8-LED readings. Both split the rows the same way: black
items are never trained on (NIR cannot identify carbon-black plastics; they measure the
abstention), labels with fewer than `MIN_ITEMS_PER_CLASS` items become the "never trained on"
set that measures unknown rejection, and the rest are the model's classes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from firmware.optics import fpi_optics, led8_optics

from . import datasets
from .identify import Identifier, IdentifierConfig
from .instrument import Augmentation
from .libqc import LibraryQC
from .preprocess import SNV
from .safety import RELEASE_BOUNDS
from .validate import FitSettings, HeadReadings, LimitPolicy, SourceSpectra

#: A label becomes a model class only with at least this many physical items: fewer cannot be
#: cross-validated by item, and a class learnt from 1–4 items would be a promise we cannot check.
MIN_ITEMS_PER_CLASS = 5
#: Source spectra are kept this far beyond the FPI's source range, so training can shift the
#: channels (augmentation ±4 nm) and adaptation can model units up to ±12 nm off.
SOURCE_MARGIN_NM = 12.0

#: The fpi identifiers the nested grouped CV chooses from, simplest first (ties keep the earlier):
#: the first shipped chain, then Savitzky–Golay 2nd derivative → SNV with windows of 45, 35 and
#: 25 nm (the FPI's own line width is 18 nm, so narrower windows only add noise) and 20 or 30
#: PCA components (what 165 items with 6 augmented copies support without fitting noise).
FPI_CANDIDATES = (IdentifierConfig.legacy(20),) + tuple(
    IdentifierConfig(derivative_first=True, window=w, deriv=2, polyorder=2, n_components=k)
    for k in (20, 30) for w in (9, 7, 5))
#: Items of the 2023-04-19 Avantes set whose label their spectra contradict. They stay in training
#: and in every headline figure; the report adds one figure without them, saying why.
FPI_SUSPECT_LABELS = {
    "ps5-042": "labelled PP, but all three scans show the HDPE band pattern, inside the FPI window (CH2 bands "
               "near 1728 and 1765 nm, no PP methyl band near 1700 nm) and outside it in the Avantes spectrum "
               "(one strong CH2 band near 1210 nm where PP has its 1195/1215 nm pair); the white part of the "
               "same item, ps5-042white, reads as PP: most likely an HDPE part of a PP product",
}
#: ``--quick`` smoke runs fit this one candidate (no choice) to stay fast.
FPI_QUICK = IdentifierConfig(derivative_first=True, window=5, deriv=2, polyorder=2, n_components=30)
#: fpi limits: the shipped quantiles and margins, plus a score floor of 0.9 for degradable classes
#: (a false degradable call priced at nine needless "unknown"s, `LimitPolicy.degradable_min_score`;
#: the fpi scores are temperature-calibrated, so the floor is a probability).
FPI_POLICY = LimitPolicy(degradable_min_score=0.9)
#: led8 limits: its scores are temperature-calibrated too, but a screening head is never 0.9 sure
#: of anything, so 0.9 would switch PLA off without saying what it buys. Its degradable floor is
#: chosen by a rule on the inner CV's held-out items instead (`host.calib.floor`): the lowest
#: floor at which at most the release bound's share (1 in 100) of non-degradable held-out rows
#: is still called degradable.
LED8_POLICY = LimitPolicy(degradable_max_false_rate=RELEASE_BOUNDS["false_degradable_rate"])
#: Why the training-library QC (`host.calib.libqc`) is not applied to led8. Its premise is that a
#: low class band depth means "this item does not carry its class's bands". Eight LEDs 70–150 nm
#: apart, each 47–196 nm wide (`firmware.optics.LED8_BANDS`), do not resolve those bands: a
#: 5-point second derivative over them is a curvature over some 500 nm, shared by most plastics.
#: Measured on the led8 library (`host.calib.libqc.band_depth_separation`, in the manifest): it
#: tells an item's own class from
#: the others with an AUC of about 0.70 (fpi: 0.95), and would drop 14 % of the items, PLA among
#: them, while half of the (item, other class) pairs pass as carrying the other class's bands.
LED8_LIBRARY_QC_NOTE = ("not applied to led8: eight LED bands do not resolve the class bands the rule measures, so "
                        "a low class band depth does not mean a featureless item here (see premise: own-class vs "
                        "other-class band depth, measured on the whole library)")


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
    #: items whose label the spectra contradict: {sample_id: why}; reported in a separate figure
    suspect_labels: dict[str, str] = field(default_factory=dict)
    #: what the package must meet to ship (`host.calib.safety.RELEASE_BOUNDS`); empty: figures only
    release_bounds: dict[str, float] = field(default_factory=dict)
    #: a screening head: its identifications are hints for the lab, never confirmations (manifest
    #: ``screening``, shown with every verdict on the status page)
    screening: bool = False
    #: why ``settings.library_qc`` is None for this head (reported in the manifest); empty: not stated
    library_qc_note: str = ""
    #: per row, the reading set it comes from (board, day, handheld), for figures by source; None: one source
    sources: np.ndarray | None = None


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

    The 2022-10-03 Avantes set stops at 1749 nm (the FPI needs 1514–1886 nm), so it is not used.
    The reference box C runs are raw counts without dark; with a dark estimated from the
    2023-04-19 files they are identified correctly, but adding them (PVC as a class) lowers the
    headline figures, so they are not used either (docs/BOXC_PVC.md, scripts/boxc_spectra.py).
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
    settings = FitSettings(augmentation=aug, n_components=FPI_QUICK.n_components,
                           candidates=(FPI_QUICK,) if quick else FPI_CANDIDATES, calibrate_scores=True,
                           test_shift_nm=0.0, robust_shift_nm=3.0, policy=FPI_POLICY, library_qc=LibraryQC())
    prov = {"identification": {"source": datasets.AVANTES_FIFTH, "sha256": _sha256(Path(data_dir) / datasets.AVANTES_FIFTH),
                               "instrument": "Avantes AvaSpec-NIR256-2.0TEC, simulated through firmware.optics.fpi_optics",
                               "licence": "Plastic Scanner open data, no licence stated"}}
    library = {"fpi_source_wavelengths_nm": wl_src.astype(np.float32), "fpi_source_values": vals[known].astype(np.float32),
               "labels": labels[known].astype(str), "groups": groups[known].astype(str)}
    suspect = {k: v for k, v in FPI_SUSPECT_LABELS.items() if k in set(groups[known])}
    return HeadData("fpi", "fpi-1550-1850-v1", optics.channels_nm, SourceSpectra(optics, wl_src, vals), labels, groups,
                    colours, classes, known, extra, black, settings,
                    _reference(vals, wl_src, labels, known, classes), prov, library, suspect,
                    release_bounds=dict(RELEASE_BOUNDS))


def load_led8(data_dir: Path, quick: bool = False) -> HeadData:
    """``led8`` identification data: the real 8-LED readings, each file over its white reference."""
    table = datasets.read_led8(data_dir)
    labels, groups = table.labels, table.sample_ids
    colours = np.array(table.colours, dtype=object)
    classes, known, extra, black = _split_rows(labels, groups, colours)
    settings = FitSettings(augmentation=Augmentation(copies=2 if quick else 4, snr=300.0), test_shift_nm=0.0,
                           test_snr=np.inf, n_components=6,
                           make_identifier=lambda: Identifier(Pipeline([("snv", SNV())]), n_components=6),
                           calibrate_scores=True, policy=LED8_POLICY)
    prov = {"identification": {"source": datasets.LED8_COMBINED, "sha256": _sha256(Path(data_dir) / datasets.LED8_COMBINED),
                               "instrument": "Plastic Scanner DB2.1/DB2.2/DB2.3 boards and handheld, each file "
                                             "normalised to its own white reference",
                               "licence": "Plastic Scanner open data, no licence stated"}}
    library = {"led8_values": table.values[known].astype(np.float32), "labels": labels[known].astype(str),
               "groups": groups[known].astype(str)}
    return HeadData("led8", "led8-8band-v1", led8_optics().channels_nm, HeadReadings(table.values), labels, groups,
                    colours, classes, known, extra, black, settings,
                    _reference(table.values, table.wavelengths_nm, labels, known, classes), prov, library,
                    release_bounds=dict(RELEASE_BOUNDS), screening=True, library_qc_note=LED8_LIBRARY_QC_NOTE,
                    sources=np.asarray(table.meta["source"], dtype=object))

