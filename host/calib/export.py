"""ONNX export: skl2onnx converters for our transformers and for the whole `SpectralChain`.

Everything in the chain is linear algebra, so the graph is written as matrix products
(row means and sums too: ``X @ ones/W``), which avoids the opset-dependent ``Reduce*``
signatures and keeps the graph small and fast for one spectrum at a time on a Pi. The
transformers get registered converters of their own, so a plain `Pipeline` of them also
converts with ``skl2onnx.convert_sklearn``.

Float32 parity with scikit-learn (float64) is checked by `check_parity`; the tolerances are
in `PARITY_TOLERANCE` and the validation report states them.
"""
from __future__ import annotations

import numpy as np
import onnx
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.algebra.onnx_ops import (OnnxAbs, OnnxAdd, OnnxDiv, OnnxLess, OnnxLog, OnnxMatMul, OnnxMax,
                                       OnnxMul, OnnxSoftmax, OnnxSqrt, OnnxSub, OnnxWhere, OnnxIdentity)
from skl2onnx.common.data_types import FloatTensorType
from sklearn.pipeline import Pipeline

from .chain import SpectralChain
from .preprocess import EPS, MSC, SNV, Absorbance, SavitzkyGolay

TARGET_OPSET = 17
INPUT_NAME = "spectrum"
#: float32 graph vs float64 scikit-learn: |onnx − sklearn| ≤ atol + rtol·|sklearn| per output.
PARITY_TOLERANCE = {
    "scores": (1e-4, 1e-3), "t2": (1e-3, 1e-3), "q": (1e-6, 1e-3), "class_distance": (1e-4, 1e-3),
    "composition": (1e-3, 1e-3), "composition_t2": (1e-3, 1e-3), "composition_q": (1e-6, 1e-3),
}


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _row_mean(x, width: int, opv):
    return OnnxMatMul(x, _f32(np.full((width, 1), 1.0 / width)), op_version=opv)


# --- emitters: (fitted object, input node) → output node ----------------------------------

def emit_snv(op: SNV, x, opv):
    w = op.n_features_in_
    xc = OnnxSub(x, _row_mean(x, w, opv), op_version=opv)
    sd = OnnxSqrt(_row_mean(OnnxMul(xc, xc, op_version=opv), w, opv), op_version=opv)
    return OnnxDiv(xc, OnnxAdd(sd, _f32([getattr(op, "eps", EPS)]), op_version=opv), op_version=opv)


def emit_savgol(op: SavitzkyGolay, x, opv):
    return OnnxMatMul(x, _f32(op.matrix_), op_version=opv)


def emit_msc(op: MSC, x, opv):
    w = op.n_features_in_
    ref = np.asarray(op.reference_, dtype=float)
    rc = ref - ref.mean()
    mean = _row_mean(x, w, opv)
    xc = OnnxSub(x, mean, op_version=opv)
    slope = OnnxMatMul(xc, _f32((rc / (rc @ rc + EPS))[:, None]), op_version=opv)
    small = OnnxLess(OnnxAbs(slope, op_version=opv), _f32([EPS]), op_version=opv)
    slope = OnnxWhere(small, _f32([EPS]), slope, op_version=opv)
    offset = OnnxSub(mean, OnnxMul(slope, _f32([ref.mean()]), op_version=opv), op_version=opv)
    return OnnxDiv(OnnxSub(x, offset, op_version=opv), slope, op_version=opv)


def emit_absorbance(op: Absorbance, x, opv):
    return OnnxMul(OnnxLog(OnnxMax(x, _f32([EPS]), op_version=opv), op_version=opv),
                   _f32([-1.0 / np.log(10.0)]), op_version=opv)


EMITTERS = {SNV: emit_snv, SavitzkyGolay: emit_savgol, MSC: emit_msc, Absorbance: emit_absorbance}


def emit_pipeline(pipe, x, opv):
    """Chain the emitters of a `Pipeline` (or a single transformer) of our transformers."""
    steps = [s for _, s in pipe.steps] if isinstance(pipe, Pipeline) else [pipe]
    for step in steps:
        if step == "passthrough" or step is None:
            continue
        try:
            x = EMITTERS[type(step)](step, x, opv)
        except KeyError:
            raise TypeError(f"no ONNX emitter for {type(step).__name__}; use "
                            f"{', '.join(t.__name__ for t in EMITTERS)}") from None
    return x


def _sum_rows(x, width: int, opv):
    """Row sums as a rank-1 tensor ``(N,)`` (MatMul with a vector drops the last axis)."""
    return OnnxMatMul(x, _f32(np.ones(width)), op_version=opv)


def emit_identifier(ident, x, opv) -> dict:
    z = emit_pipeline(ident.preprocessing_, x, opv)
    pca = ident.pca_
    zc = OnnxSub(z, _f32(pca.mean_), op_version=opv)
    t = OnnxMatMul(zc, _f32(pca.components_.T), op_version=opv)
    k = pca.components_.shape[0]
    t2 = _sum_rows(OnnxMul(OnnxMul(t, t, op_version=opv), _f32(1.0 / pca.explained_variance_),
                           op_version=opv), k, opv)
    resid = OnnxSub(zc, OnnxMatMul(t, _f32(pca.components_), op_version=opv), op_version=opv)
    q = _sum_rows(OnnxMul(resid, resid, op_version=opv), resid_width(pca), opv)

    lda = ident.lda_
    coef, intercept = np.atleast_2d(lda.coef_), np.atleast_1d(lda.intercept_)
    if len(lda.classes_) == 2:  # sklearn: sigmoid of one score == softmax of [0, score]
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.r_[0.0, intercept]
    temperature = getattr(ident, "temperature_", 1.0)  # calibrated scores: softmax(logits / T)
    coef, intercept = coef / temperature, intercept / temperature
    logits = OnnxAdd(OnnxMatMul(t, _f32(coef.T), op_version=opv), _f32(intercept), op_version=opv)
    scores = OnnxSoftmax(logits, axis=1, op_version=opv)

    C = len(lda.classes_)
    Ls = ident.class_whiteners_                       # (C, k, k)
    big = np.concatenate(list(Ls), axis=1)            # (k, C·k)
    bias = np.concatenate([m @ L for m, L in zip(ident.class_means_, Ls)])
    diff = OnnxSub(OnnxMatMul(t, _f32(big), op_version=opv), _f32(bias), op_version=opv)
    block = np.kron(np.eye(C), np.ones((k, 1))) / k  # (C·k, C): mean of squares per class
    dist = OnnxSqrt(OnnxMatMul(OnnxMul(diff, diff, op_version=opv), _f32(block), op_version=opv),
                    op_version=opv)
    return {"scores": scores, "t2": t2, "q": q, "class_distance": dist}


def resid_width(pca) -> int:
    return pca.components_.shape[1]


def emit_quantity(qm, x, opv) -> tuple:
    z = emit_pipeline(qm.preprocessing_, x, opv)
    pls = qm.pls_
    zc = OnnxSub(z, _f32(pls._x_mean), op_version=opv)
    t = OnnxMatMul(zc, _f32(pls.x_rotations_), op_version=opv)
    k = pls.x_rotations_.shape[1]
    value = OnnxAdd(OnnxMatMul(zc, _f32(pls.coef_.T), op_version=opv), _f32(pls.intercept_), op_version=opv)
    t2 = OnnxMatMul(OnnxMul(OnnxMul(t, t, op_version=opv), _f32(1.0 / qm.score_variance_), op_version=opv),
                    _f32(np.ones((k, 1))), op_version=opv)
    resid = OnnxSub(zc, OnnxMatMul(t, _f32(pls.x_loadings_.T), op_version=opv), op_version=opv)
    q = OnnxMatMul(OnnxMul(resid, resid, op_version=opv), _f32(np.ones((zc_width(pls), 1))), op_version=opv)
    return value, t2, q


def zc_width(pls) -> int:
    return pls.x_rotations_.shape[0]


# --- skl2onnx registration ------------------------------------------------------------------

def _chain_parser(scope, model, inputs, custom_parsers=None):
    op = scope.declare_local_operator("PlastiNIRSpectralChain", model)
    op.inputs = inputs
    for name in model.output_names():
        op.outputs.append(scope.declare_local_variable(name, FloatTensorType()))
    return op.outputs


def _chain_shape(operator):
    model = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    C, Q = len(model.classes_), len(model.quantities)
    shapes = {"scores": [n, C], "t2": [n], "q": [n], "class_distance": [n, C],
              "composition": [n, Q], "composition_t2": [n, Q], "composition_q": [n, Q]}
    for var, name in zip(operator.outputs, model.output_names()):
        var.type = FloatTensorType(shapes[name])


def _chain_converter(scope, operator, container):
    model: SpectralChain = operator.raw_operator
    opv = container.target_opset
    x = operator.inputs[0]
    nodes = emit_identifier(model.identifier, x, opv)
    if model.quantities:
        from skl2onnx.algebra.onnx_ops import OnnxConcat
        parts = [emit_quantity(q, x, opv) for _, q in model.quantities]
        nodes["composition"] = OnnxConcat(*[p[0] for p in parts], axis=1, op_version=opv)
        nodes["composition_t2"] = OnnxConcat(*[p[1] for p in parts], axis=1, op_version=opv)
        nodes["composition_q"] = OnnxConcat(*[p[2] for p in parts], axis=1, op_version=opv)
    for var, name in zip(operator.outputs, model.output_names()):
        OnnxIdentity(nodes[name], op_version=opv, output_names=[var]).add_to(scope, container)


def _transformer_shape(operator):
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([n, operator.raw_operator.n_features_in_])


def _transformer_converter(scope, operator, container):
    node = EMITTERS[type(operator.raw_operator)](operator.raw_operator, operator.inputs[0], container.target_opset)
    OnnxIdentity(node, op_version=container.target_opset,
                 output_names=[operator.outputs[0]]).add_to(scope, container)


def register() -> None:
    """Make skl2onnx know our estimators (idempotent)."""
    for cls in EMITTERS:
        update_registered_converter(cls, f"PlastiNIR{cls.__name__}", _transformer_shape, _transformer_converter)
    update_registered_converter(SpectralChain, "PlastiNIRSpectralChain", _chain_shape, _chain_converter,
                                parser=_chain_parser)


def to_onnx(model, n_features: int) -> onnx.ModelProto:
    """Convert a fitted `SpectralChain` (or a Pipeline of our transformers) to ONNX."""
    register()
    onx = convert_sklearn(model, initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
                          target_opset=TARGET_OPSET)
    onx.graph.name = "plastinir_spectral_chain"  # skl2onnx draws a random uuid: keep builds reproducible
    onx.producer_name = "plastinir-host"
    onx.doc_string = "PlastiNIR spectral chain: preprocessing, identification, outlier statistics, quantities"
    return onx


def check_parity(chain: SpectralChain, onnx_bytes: bytes, X: np.ndarray) -> dict[str, float]:
    """Largest |ONNX − scikit-learn| per output over ``X`` (N, W); raise if over `PARITY_TOLERANCE`."""
    import onnxruntime as ort
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, {INPUT_NAME: np.asarray(X, dtype=np.float32)})))
    want = chain.outputs(np.asarray(X, dtype=np.float32).astype(np.float64))
    worst = {}
    for name, ref in want.items():
        atol, rtol = PARITY_TOLERANCE[name]
        err = np.abs(got[name].reshape(ref.shape) - ref)
        worst[name] = float(err.max())
        bad = err > atol + rtol * np.abs(ref)
        if bad.any():
            raise AssertionError(f"ONNX output {name!r} differs from scikit-learn by up to {err.max():.3g} "
                                 f"(tolerance {atol:g} + {rtol:g}·|value|) in {int(bad.sum())} values")
    return worst
