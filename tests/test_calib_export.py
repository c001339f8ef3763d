"""ONNX export: the graph matches scikit-learn within the stated float32 tolerance."""
import numpy as np
import onnxruntime as ort
from sklearn.pipeline import Pipeline

from calib_helpers import onnx_bytes, synthetic_chain
from host.calib.export import PARITY_TOLERANCE, check_parity, to_onnx
from host.calib.preprocess import MSC, SNV, Absorbance, SavitzkyGolay


def test_chain_parity_and_output_names():
    chain, X, _ = synthetic_chain()
    b = onnx_bytes(chain)
    worst = check_parity(chain, b, X)
    assert set(worst) == set(chain.output_names())
    sess = ort.InferenceSession(b, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["spectrum"]
    assert [o.name for o in sess.get_outputs()] == chain.output_names()
    # also for spectra the model has never seen (gain/offset changed, noise)
    rng = np.random.default_rng(3)
    check_parity(chain, b, 1.7 * X[:10] + 0.1 + rng.normal(0, 0.01, X[:10].shape))


def test_parity_check_can_fail():
    chain, X, _ = synthetic_chain(with_quantity=False)
    b = onnx_bytes(chain)
    chain.identifier.pca_.mean_ = chain.identifier.pca_.mean_ + 0.5  # sklearn side now differs
    try:
        check_parity(chain, b, X)
    except AssertionError as exc:
        assert "differs from scikit-learn" in str(exc)
    else:
        raise AssertionError("a broken graph passed the parity check")


def test_transformer_pipeline_converts_alone():
    X = np.random.default_rng(0).random((6, 61)) + 0.1
    pipe = Pipeline([("a", Absorbance()), ("m", MSC()), ("snv", SNV()), ("sg", SavitzkyGolay(9, 2, 1))]).fit(X)
    sess = ort.InferenceSession(to_onnx(pipe, 61).SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"spectrum": X.astype(np.float32)})[0]
    assert np.allclose(got, pipe.transform(X), atol=1e-4)
    assert PARITY_TOLERANCE["scores"] == (1e-4, 1e-3)
