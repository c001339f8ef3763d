"""The model in service, swapped atomically when a new package is accepted.

A model update (MQTT command, page upload) loads and verifies the new package completely before
it touches the slot; a bad package raises and the previous model stays in service. The swap is
one reference assignment under a lock, so a measurement uses either the old model or the new
one from start to finish, never a mix (the pipeline takes `current()` once per measurement).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np


class Predictor(Protocol):
    """What the pipeline needs from `firmware.inference.Model`."""

    def predict(self, reflectance: np.ndarray) -> Sequence[Any]:
        """``reflectance`` (N, W) on the model grid → N Prediction-like objects."""


@dataclass(frozen=True)
class ActiveModel:
    """A loaded model and what a record says about it (``model {name, version, sha256}``)."""

    model: Predictor = field(repr=False)
    name: str
    version: str
    sha256: str
    head: str
    wavelengths_nm: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}

    @classmethod
    def from_package(cls, package: Any, model: Predictor) -> "ActiveModel":
        """From a verified `firmware.model_package.ModelPackage` and the model built from it."""
        return cls(model=model, name=package.name, version=package.version, sha256=package.sha256,
                   head=package.head, wavelengths_nm=np.asarray(package.wavelengths_nm, dtype=float))


class ModelSlot:
    def __init__(self, model: ActiveModel | None = None) -> None:
        self._lock = threading.Lock()
        self._model = model

    def current(self) -> ActiveModel | None:
        with self._lock:
            return self._model

    def swap(self, new: ActiveModel) -> ActiveModel | None:
        """Put ``new`` in service; returns the one it replaced."""
        with self._lock:
            old, self._model = self._model, new
        return old
