"""The whole model as one scikit-learn object: identification plus any number of quantities.

`SpectralChain` is what gets exported to a single ONNX graph (`host.calib.export`) and what
the parity check and the benchmark compare that graph against: its `outputs` computes, in
float64 with scikit-learn and numpy, exactly the tensors the graph returns.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .identify import Identifier
from .quantify import QuantityModel

#: ONNX output names, in graph order (documented in the manifest's ``outputs``).
OUTPUT_DOC = {
    "scores": "float32 [N, C]: LDA posterior per class, in manifest `classes` order",
    "t2": "float32 [N]: Hotelling T² of the PCA scores (global outlier statistic)",
    "q": "float32 [N]: Q residual, squared distance off the PCA subspace",
    "class_distance": "float32 [N, C]: RMS whitened distance to each class (≈ 1 for a typical member)",
    "composition": "float32 [N, Q]: each quantity's value, in manifest `quantities` order",
    "composition_t2": "float32 [N, Q]: each quantity's PLS score T²",
    "composition_q": "float32 [N, Q]: each quantity's X residual Q",
}


class SpectralChain(BaseEstimator):
    """A fitted `Identifier` and named fitted `QuantityModel`s sharing one input spectrum.

    Parameters
    ----------
    identifier : Identifier
        Fitted.
    quantities : list of (str, QuantityModel)
        Fitted; the name is the quantity's (e.g. ``pp_wt_pct``).
    """

    def __init__(self, identifier: Identifier, quantities=()):
        self.identifier = identifier
        self.quantities = list(quantities)

    @property
    def classes_(self) -> np.ndarray:
        return self.identifier.classes_

    @property
    def n_features_in_(self) -> int:
        return self.identifier.n_features_in_

    def output_names(self) -> list[str]:
        names = ["scores", "t2", "q", "class_distance"]
        return names + (["composition", "composition_t2", "composition_q"] if self.quantities else [])

    def outputs(self, X) -> dict[str, np.ndarray]:
        out = self.identifier.outputs(X)
        if self.quantities:
            qs = [q.outputs(X) for _, q in self.quantities]
            out["composition"] = np.stack([o["value"] for o in qs], axis=1)
            out["composition_t2"] = np.stack([o["t2"] for o in qs], axis=1)
            out["composition_q"] = np.stack([o["q"] for o in qs], axis=1)
        return out
