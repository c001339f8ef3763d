"""Running a model package on the device (and in ``nir-host evaluate``): ONNX → verdict.

One ONNX graph computes the class scores, the outlier statistics (T², Q, a distance to each
class) and the quantities; this module turns them into the contract's verdict. Both the
device and the host's ``evaluate`` call `Model.predict`, so they cannot disagree on a verdict.

Verdict rules (limits from the manifest's ``limits``, set by the toolchain from held-out items):

1. ``t2 > limits.t2`` or ``q > limits.q`` → **unknown**: the spectrum is unlike the training set.
2. A class *accepts* when its distance is within its limit (``limits.class_distance``) and its
   score is at least ``limits.min_score``.
3. No class accepts → **unknown**; several → **ambiguous**; exactly one → **identified**, unless
   the manifest gives that class a score floor of its own (``limits.class_min_score[class]``)
   and its score is below it → **unknown**. Packages give degradable classes such a floor:
   calling a conventional item "degradable" is the costliest error the device can make (it can
   clear a product that should have been flagged), so a degradable call must be surer than any
   other (the toolchain's `LimitPolicy` says how the figure is chosen: a fixed probability for
   calibrated full-spectrum heads, or the lowest floor that keeps held-out false degradable
   calls within a stated rate for a screening head, `host.calib.floor`). The
   floor only ever turns *identified* into *unknown*; it never hands the call to another class.

Sample-quality rejections (dark, saturated, empty port) act on raw counts before the model,
in the acquisition code, so this module never returns ``rejected``.

Only numpy and onnxruntime: this runs on the Pi.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .contracts import AMBIGUOUS, IDENTIFIED, UNKNOWN
from .errors import ModelPackageError
from .model_package import ModelPackage, load_package
from .optics import head_optics, resample

INPUT_NAME = "spectrum"
REQUIRED_OUTPUTS = ("scores", "t2", "q", "class_distance")
QUANTITY_OUTPUTS = ("composition", "composition_t2", "composition_q")


@dataclass
class Prediction:
    """One spectrum's verdict: the fields a result record (`firmware.record`) carries."""

    verdict: str
    reason: str | None
    class_: str | None
    degradable: bool | None
    confidence: float | None
    scores: dict[str, float]
    t2: float
    q: float
    limits: dict[str, float]
    composition: dict[str, dict[str, Any]] = field(default_factory=dict)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


class Model:
    """A verified package with its ONNX session; build it with `Model.load`."""

    def __init__(self, package: ModelPackage, session) -> None:
        self.package = package
        self._session = session
        m = package.manifest
        self.head: str = m["head"]
        self.wavelengths_nm: np.ndarray = package.wavelengths_nm
        self.classes: list[str] = package.classes
        self.degradable: dict[str, bool] = dict(m["degradable"])
        self.quantities: list[dict[str, Any]] = list(m["quantities"]) if isinstance(m["quantities"], list) else []
        self._outputs = [o.name for o in session.get_outputs()]

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, trusted_issuers: Iterable[str] | None, *, threads: int = 1) -> "Model":
        """Verify the package (hashes, signature, issuer), then open and check its ONNX graph.

        Refuses, with the cause, a graph onnxruntime cannot load or whose input/outputs do not
        match the manifest (name, width = ``len(wavelengths_nm)``, one score per class).
        """
        import onnxruntime as ort

        package = load_package(path, trusted_issuers)
        where = str(path)
        m = package.manifest
        for key in ("class_distance",):
            if not isinstance(m["limits"].get(key), dict):
                raise ModelPackageError(f"{where}: manifest limits lack {key!r} (per-class distance limits)")
        missing = [c for c in package.classes if c not in m["limits"]["class_distance"]]
        if missing:
            raise ModelPackageError(f"{where}: no class_distance limit for class(es) {', '.join(missing)}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(package.onnx_bytes, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own unrelated exception types
            raise ModelPackageError(f"{where}: model.onnx cannot be loaded by onnxruntime: {exc}") from exc
        inputs = session.get_inputs()
        width = len(package.wavelengths_nm)
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
            raise ModelPackageError(f"{where}: ONNX input must be one tensor named {INPUT_NAME!r}, "
                                    f"got {[i.name for i in inputs]}")
        shape = inputs[0].shape
        if len(shape) != 2 or shape[1] != width:
            raise ModelPackageError(f"{where}: ONNX input shape {shape} does not match the manifest's "
                                    f"{width} wavelengths")
        names = [o.name for o in session.get_outputs()]
        declared = list(m.get("outputs", {}))
        need = list(REQUIRED_OUTPUTS) + (list(QUANTITY_OUTPUTS) if package.manifest["quantities"] else [])
        absent = [n for n in need if n not in names]
        if absent:
            raise ModelPackageError(f"{where}: ONNX graph lacks output(s) {', '.join(absent)} (has {names})")
        if declared and sorted(declared) != sorted(names):
            raise ModelPackageError(f"{where}: ONNX outputs {names} differ from the manifest's {declared}")
        model = cls(package, session)
        probe = model.run(np.ones((1, width)))
        if probe["scores"].shape != (1, len(model.classes)):
            raise ModelPackageError(f"{where}: ONNX scores have {probe['scores'].shape[1]} columns for "
                                    f"{len(model.classes)} manifest classes")
        if model.quantities and probe["composition"].shape[1] != len(model.quantities):
            raise ModelPackageError(f"{where}: ONNX composition has {probe['composition'].shape[1]} columns "
                                    f"for {len(model.quantities)} manifest quantities")
        return model

    # --- running ------------------------------------------------------------------------

    def run(self, reflectance: np.ndarray) -> dict[str, np.ndarray]:
        """Raw graph outputs for reflectance ``(N, W)`` on the model grid (fraction, 1.0 = white)."""
        x = np.atleast_2d(np.asarray(reflectance, dtype=np.float32))
        if x.shape[1] != self.wavelengths_nm.size:
            raise ValueError(f"spectrum has {x.shape[1]} points, model {self.package.name} needs "
                             f"{self.wavelengths_nm.size} (use to_model_grid)")
        if not np.all(np.isfinite(x)):
            raise ValueError("spectrum contains NaN or infinite values")
        return dict(zip(self._outputs, self._session.run(None, {INPUT_NAME: x})))

    def predict(self, reflectance: np.ndarray) -> list[Prediction]:
        """Verdicts for reflectance ``(N, W)`` on the model grid (fraction, 1.0 = white)."""
        return self.decide(self.run(reflectance))

    def decide(self, out: dict[str, np.ndarray]) -> list[Prediction]:
        """Apply the verdict rules (module docstring) to graph outputs of N spectra."""
        return decide(out, self.classes, self.degradable, self.package.manifest["limits"], self.quantities)


def decide(out: dict[str, np.ndarray], classes: list[str], degradable: dict[str, bool],
           limits: dict[str, Any], quantities: list[dict[str, Any]] = ()) -> list[Prediction]:
    """The verdict rules on graph outputs ``out`` of N spectra (used by `Model` and the toolchain's CV).

    ``limits`` is the manifest's: ``t2``, ``q``, ``class_distance {class: limit}``, ``min_score``
    and optionally ``class_min_score {class: floor}`` (a class's own score floor).
    """
    lim_t2, lim_q = float(limits["t2"]), float(limits["q"])
    class_limits = np.array([float(limits["class_distance"][c]) for c in classes])
    min_score = float(limits.get("min_score", 0.0))
    own = {c: float(v) for c, v in (limits.get("class_min_score") or {}).items()}
    scores, dist = np.atleast_2d(out["scores"]), np.atleast_2d(out["class_distance"])
    t2, q = np.reshape(out["t2"], -1), np.reshape(out["q"], -1)
    shown = {"t2": lim_t2, "q": lim_q}
    preds = []
    for i in range(len(scores)):
        s = {c: float(v) for c, v in zip(classes, scores[i])}
        top = int(np.argmax(scores[i]))
        base = dict(scores=s, t2=float(t2[i]), q=float(q[i]), limits=dict(shown))
        if t2[i] > lim_t2 or q[i] > lim_q:
            what = (f"Q {_fmt(q[i])} > limit {_fmt(lim_q)}" if q[i] > lim_q
                    else f"T² {_fmt(t2[i])} > limit {_fmt(lim_t2)}")
            preds.append(Prediction(UNKNOWN, f"spectrum unlike any material in the model ({what})",
                                    None, None, float(scores[i, top]), **base))
            continue
        accept = np.flatnonzero((dist[i] <= class_limits) & (scores[i] >= min_score))
        if accept.size == 0:
            # the likeliest class names the cause: it is too far away, or nothing is likely enough
            if scores[i, top] >= min_score:
                why = (f"outside every class (nearest {classes[top]}: distance "
                       f"{_fmt(dist[i, top])} > limit {_fmt(class_limits[top])})")
            else:
                why = (f"no class is likely enough (best {classes[top]}: score {scores[i, top]:.2f} "
                       f"< {min_score:g})")
            preds.append(Prediction(UNKNOWN, why, None, None, float(scores[i, top]), **base))
        elif accept.size == 1 and scores[i, accept[0]] < own.get(classes[accept[0]], -np.inf):
            c = classes[accept[0]]
            preds.append(Prediction(UNKNOWN, f"not sure enough for {c} (score {scores[i, accept[0]]:.2f} < "
                                             f"{own[c]:g} required for this class)",
                                    None, None, float(scores[i, accept[0]]), **base))
        elif accept.size == 1:
            c = classes[accept[0]]
            preds.append(Prediction(IDENTIFIED, None, c, degradable[c], float(scores[i, accept[0]]),
                                    composition=_composition(out, i, c, quantities), **base))
        else:
            order = accept[np.argsort(-scores[i, accept])]
            names = ", ".join(f"{classes[j]} ({scores[i, j]:.2f})" for j in order)
            degr = {degradable[classes[j]] for j in order}
            preds.append(Prediction(AMBIGUOUS, f"several classes accept: {names}", None,
                                    degr.pop() if len(degr) == 1 else None,
                                    float(scores[i, order[0]]), **base))
    return preds


def _composition(out: dict[str, np.ndarray], i: int, cls: str,
                 quantities: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Composition figures for an identified spectrum; a quantity outside its calibration
    (class not in ``applies_to``, T² or Q over its limit, value off its range) is left out
    rather than reported wrong."""
    comp = {}
    for j, qd in enumerate(quantities):
        applies = qd.get("applies_to")
        if applies and cls not in applies:
            continue
        value = float(out["composition"][i, j])
        t2 = float(out["composition_t2"][i, j])
        qres = float(out["composition_q"][i, j])
        lim = qd["limits"]
        lo, hi = qd["valid_range"]
        margin = float(lim.get("range_margin", 0.0))
        if t2 > lim["t2"] or qres > lim["q"] or not lo - margin <= value <= hi + margin:
            continue
        u = qd["uncertainty"]
        unc = float(u["rmsecv"]) * float(np.sqrt(1.0 + t2 / float(u["n_train"])))
        comp[qd["name"]] = {"value": float(np.clip(value, lo, hi)), "uncertainty": unc, "unit": qd["unit"]}
    return comp


def to_model_grid(wavelengths_nm, values, model: Model, *, continuous: bool = False) -> np.ndarray:
    """Bring spectra ``(N, W_src)`` (or ``(W_src,)``) on any covering grid onto the model grid.

    ``continuous=False`` (a head's own readings, e.g. a unit whose calibrated grid differs from
    the model's): linear interpolation. ``continuous=True`` (a lab spectrum much finer than the
    head, e.g. Avantes or FT-NIR): the head's optics (`firmware.optics`) measure it, as the
    head would, so its line shape is applied once. Either way a grid that does not cover the
    model's range is refused rather than extrapolated.
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    vals = np.asarray(values, dtype=float)
    if wl.size == model.wavelengths_nm.size and np.allclose(wl, model.wavelengths_nm, atol=1e-6):
        return vals.copy()
    if continuous:
        return head_optics(model.head, grid_nm=model.wavelengths_nm).measure(wl, vals) \
            if model.head == "fpi" else head_optics(model.head).measure(wl, vals)
    return resample(wl, vals, model.wavelengths_nm, what=f"spectrum for model {model.package.name}")

