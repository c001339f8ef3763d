"""Unit adaptation: fit a master model to one particular unit from spectra of known standards.

A unit of a head type differs from the master in two ways that matter: its wavelength axis
(FPI: every channel off by a shift and a stretch, ``λ_true = λ + shift + stretch·(λ − 1700)``)
and its photometry (gain and offset, per band for LED heads). Given standards measured on the
unit (any items, at least one per class), `estimate_fpi_axis` finds the axis that makes the
class references, measured through the head's optics, match the standards best (each
standard may differ from its class mean by its own gain and offset, so those are fitted per
spectrum and the unit's are their medians). The model is then re-trained from the package's
own training library seen through *that* unit's optics, plus the standards themselves, and
re-signed. Nothing but the package and the standards is needed.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from firmware.contracts import IDENTIFIED
from firmware.errors import SpectraFormatError
from firmware.inference import Model, decide, to_model_grid
from firmware.optics import fpi_optics

from .chain import OUTPUT_DOC, SpectralChain
from .export import check_parity, to_onnx
from .identify import Identifier, IdentifierConfig
from .instrument import Augmentation, add_noise
from .preprocess import SNV
from .quantify import QuantityModel
from .select import select_and_fit
from .validate import FitSettings, LimitPolicy, SourceSpectra

from sklearn.pipeline import Pipeline

PIVOT_NM = 1700.0


@dataclass
class UnitEstimate:
    shift_nm: float | None
    stretch: float | None
    gain: list[float]
    offset: list[float]
    residual: float


def _affine_residual(S: np.ndarray, M: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Per-row least squares ``S ≈ g·M + o``; returns (total squared residual, g, o)."""
    Mm, Sm = M.mean(axis=1, keepdims=True), S.mean(axis=1, keepdims=True)
    Mc, Sc = M - Mm, S - Sm
    g = (Mc * Sc).sum(axis=1) / np.maximum((Mc * Mc).sum(axis=1), 1e-12)
    o = Sm[:, 0] - g * Mm[:, 0]
    r = S - (g[:, None] * M + o[:, None])
    return float((r ** 2).sum()), g, o


def unit_optics(grid: np.ndarray, shift: float, stretch: float):
    """FPI optics whose channel ``i`` (reported at ``grid[i]``) is centred at the unit's true wavelength."""
    return fpi_optics(grid_nm=grid + shift + stretch * (grid - PIVOT_NM))


def _match(standards, labels, sim_lib, lib_labels):
    """For each standard, the library spectrum of its class it matches best after its own gain
    and offset; returns (total residual, gains, offsets)."""
    total, gains, offsets = 0.0, [], []
    for s, lab in zip(standards, labels):
        cand = sim_lib[lib_labels == lab]
        Mm = cand.mean(axis=1, keepdims=True)
        Mc = cand - Mm
        sc = s - s.mean()
        g = (Mc @ sc) / np.maximum((Mc * Mc).sum(axis=1), 1e-12)
        o = s.mean() - g * Mm[:, 0]
        r = ((s[None, :] - (g[:, None] * cand + o[:, None])) ** 2).sum(axis=1)
        j = int(np.argmin(r))
        total += float(r[j])
        gains.append(float(g[j]))
        offsets.append(float(o[j]))
    return total, np.array(gains), np.array(offsets)


def estimate_fpi_axis(grid, standards, labels, src_wl, src_values, src_labels, *,
                      max_shift_nm: float = 10.0, stretch_gain: float = 0.05) -> UnitEstimate:
    """Shift, stretch, gain and offset of a unit from its standards ``(N, C)`` on the nominal ``grid``.

    Each standard is compared with the training spectrum of its class that it matches best
    (after its own gain and offset), measured through candidate unit optics; the axis that
    minimises the total residual wins. When the standards are items of the training library
    the match is exact, otherwise it is the closest item, which beats a class mean. A stretch
    is kept only if it lowers the residual by more than ``stretch_gain`` (5 %): with few
    standards item-to-item differences otherwise masquerade as a stretch.
    """
    labels = np.asarray(labels, dtype=object)
    src_labels = np.asarray(src_labels, dtype=object)
    keep = np.isin(src_labels, labels)
    src_values, src_labels = src_values[keep], src_labels[keep]

    def cost(shift, stretch=0.0):
        sim = unit_optics(grid, shift, stretch).measure(src_wl, src_values)
        return _match(standards, labels, sim, src_labels)[0]

    coarse = min((cost(s), s) for s in np.arange(-max_shift_nm, max_shift_nm + 1e-9, 1.0))[1]
    shift = float(minimize(lambda p: cost(p[0]), x0=[coarse], method="Nelder-Mead",
                           options={"xatol": 1e-3, "initial_simplex": [[coarse - 0.5], [coarse + 0.5]]}).x[0])
    base = cost(shift)
    fit = minimize(lambda p: cost(p[0], p[1]), x0=[shift, 0.0], method="Nelder-Mead",
                   options={"xatol": 1e-4, "initial_simplex": [[shift, 0], [shift + 0.5, 0], [shift, 0.005]]})
    stretch = 0.0
    if fit.fun < (1 - stretch_gain) * base:
        shift, stretch = float(fit.x[0]), float(fit.x[1])
    sim = unit_optics(grid, shift, stretch).measure(src_wl, src_values)
    res, g, o = _match(standards, labels, sim, src_labels)
    return UnitEstimate(shift, stretch, [float(np.median(g))], [float(np.median(o))], res)


def _read_library(model: Model) -> tuple[dict[str, np.ndarray], dict]:
    try:
        raw = model.package.files["library.npz"]
    except KeyError:
        raise SpectraFormatError(f"{model.package.source}: package carries no training library (library.npz); "
                                 f"it cannot be adapted") from None
    lib = dict(np.load(io.BytesIO(raw), allow_pickle=False))
    return lib, json.loads(str(lib.pop("settings")))


def _accuracy(preds, labels) -> float:
    return float(np.mean([p.verdict == IDENTIFIED and p.class_ == l for p, l in zip(preds, labels)]))


def adapt(model: Model, table, *, name: str | None = None, progress=print, seed: int = 7):
    """Adapt ``model`` to the unit that measured ``table`` (standards).

    Returns ``(manifest, onnx_bytes, files, summary)`` ready for `host.package_writer.write_package`.
    """
    labels = np.asarray(table.labels)
    unknown = sorted(set(labels) - set(model.classes))
    if unknown:
        raise SpectraFormatError(f"{table.source}: standards labelled {unknown} are not classes of "
                                 f"{model.package.name} ({', '.join(model.classes)})")
    missing = sorted(set(model.classes) - set(labels))
    if missing:
        raise SpectraFormatError(f"{table.source}: no standard for class(es) {', '.join(missing)}; "
                                 f"measure at least one item per class")
    vals = table.values / 100.0 if np.nanmedian(table.values) > 5 else table.values
    S = to_model_grid(table.wavelengths_nm, vals, model)
    before = _accuracy(model.predict(S), labels)
    lib, settings = _read_library(model)
    rng = np.random.default_rng(seed)
    grid = model.wavelengths_nm
    lib_labels, lib_groups = lib["labels"].astype(object), lib["groups"].astype(object)
    std_groups = np.asarray([f"standard-{s}" for s in table.sample_ids], dtype=object)
    aug = Augmentation(**{**settings["augmentation"], "gain": tuple(settings["augmentation"]["gain"]),
                          "offset": tuple(settings["augmentation"]["offset"])})
    policy = LimitPolicy(**settings["policy"])
    if model.head == "fpi":
        src_wl, src = lib["fpi_source_wavelengths_nm"].astype(float), lib["fpi_source_values"].astype(float)
        progress(f"estimating the unit's wavelength axis and photometry from {len(S)} standards")
        est = estimate_fpi_axis(grid, S, labels, src_wl, src, lib_labels)
        optics = unit_optics(grid, est.shift_nm, est.stretch)
        source = SourceSpectra(optics, src_wl, src)
        corrected = (S - est.offset[0]) / est.gain[0]
    else:
        vals_lib = lib["led8_values"].astype(float)
        means = np.stack([vals_lib[lib_labels == c].mean(axis=0) for c in labels])
        band_gain = np.median(S / np.maximum(means, 1e-9), axis=0)
        est = UnitEstimate(None, None, [float(g) for g in band_gain], [0.0] * len(band_gain), 0.0)
        from .validate import HeadReadings
        source = HeadReadings(vals_lib * band_gain)
        corrected = S
    progress("re-training on the library seen through this unit, plus the standards")
    settings_fit = FitSettings(augmentation=aug, n_components=settings["n_components"], policy=policy,
                               test_shift_nm=0.0 if model.head == "led8" else 1.0,
                               make_identifier=(lambda: Identifier(Pipeline([("snv", SNV())]), n_components=6))
                               if model.head == "led8" else None,
                               # the master's chosen chain, not a new choice on a unit's few standards
                               candidates=(IdentifierConfig.from_dict(settings["identifier"]),)
                               if "identifier" in settings else (),
                               calibrate_scores=bool(settings.get("calibrate_scores", False)))
    rows = np.arange(len(lib_labels))
    fit = select_and_fit(source, rows, lib_labels, lib_groups, settings_fit, rng,
                         n_splits=settings_fit.inner_splits, seed=0)
    limits = fit.limits
    build = settings_fit.candidates[0].build if settings_fit.candidates else settings_fit.identifier
    X_lib, idx = source.train(rows, aug, rng)
    X_std = np.vstack([corrected * est.gain[0] + est.offset[0] if model.head == "fpi" else corrected,
                       add_noise(np.repeat(S, aug.copies - 1, axis=0), aug.snr, rng)])
    y_std = np.r_[labels, np.repeat(labels, aug.copies - 1)]
    ident = build().fit(np.vstack([X_lib, X_std]), np.r_[lib_labels[idx], y_std]).set_temperature(fit.temperature)
    quantities = []
    for qd in model.quantities:
        key_wl = f"{qd['name']}_wavelengths_nm"
        if key_wl not in lib:
            raise SpectraFormatError(f"library lacks the spectra of quantity {qd['name']}")
        qsrc = SourceSpectra(optics, lib[key_wl].astype(float), lib[f"{qd['name']}_values"].astype(float))
        qy = lib[f"{qd['name']}_y"].astype(float)
        qaug = Augmentation(copies=4, max_shift_nm=0.0, gain=(0.7, 1.4), offset=(-0.02, 0.02), snr=1000.0)
        Xq, qi = qsrc.train(np.arange(len(qy)), qaug, rng)
        quantities.append((qd["name"], QuantityModel(Pipeline([("snv", SNV())]), qd["n_components"]).fit(Xq, qy[qi])))
    chain = SpectralChain(ident, quantities)
    onnx_bytes = to_onnx(chain, grid.size).SerializeToString()
    check_parity(chain, onnx_bytes, S)
    after_out = chain.outputs(S)
    after = _accuracy(decide(after_out, list(model.classes), model.degradable, limits, model.quantities), labels)
    manifest = {k: v for k, v in model.package.manifest.items()
                if k not in ("signature", "onnx_sha256", "files", "issuer_public_key", "schema")}
    manifest["name"] = name or f"{manifest['name']}-adapted"
    manifest["limits"] = limits
    manifest["outputs"] = {n: OUTPUT_DOC[n] for n in chain.output_names()}
    summary = {"base_model": model.package.summary(), "n_standards": int(len(S)),
               "wavelength_shift_nm": est.shift_nm, "stretch": est.stretch,
               "gain": est.gain, "offset": est.offset,
               "standards_accuracy_before": before, "standards_accuracy_after": after,
               "note": "after = the adapted model on the same standards it was adapted with (in-sample)"}
    manifest["adaptation"] = summary
    return manifest, onnx_bytes, dict(model.package.files), summary
