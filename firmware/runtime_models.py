"""The model part of `firmware.runtime.DeviceRuntime`: which package is in service, and how a new
one gets there (mixed into the runtime; kept apart only to keep each module readable).

A package is verified completely before it is used — at start and at run time — and the one in
service changes only by an atomic swap of the `firmware.model_slot.ModelSlot`. A package accepted
at run time is kept in the state directory (`firmware.model_store`), so the next start loads it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config.model import newest_package
from .errors import ModelPackageError, NotReady, PlastiNIRError
from .measurement import resample_to_model
from .model_package import load_package
from .model_slot import ActiveModel

if TYPE_CHECKING:
    from .config import DeviceConfig


class RuntimeModels:
    """Needs from the runtime: ``config``, ``head``, ``models``, ``store``, ``model_source``,
    ``model_errors``, ``_install_lock`` and ``_event``."""

    # --- models -------------------------------------------------------------------------------

    def load_model(self, path: str | Path, *, config: "DeviceConfig | None" = None) -> ActiveModel:
        """Verify a package for this unit and open it, without putting it in service.

        Hashes, signature and trusted issuer (`firmware.model_package`), an ONNX graph that
        onnxruntime loads with ``measurement.inference_threads`` threads and that matches its
        manifest (`firmware.inference.Model.load`), the unit's head, and a model grid the head's
        channels cover. Any failure is a `ModelPackageError` naming the package and the cause.
        """
        config = config or self.config
        try:
            active = self._open_package(path, config)
        except ModelPackageError:
            raise
        except PlastiNIRError as exc:
            raise ModelPackageError(f"{path}: {exc}") from exc
        if active.head != self.head.name:
            raise ModelPackageError(f"{path}: package {active.name} is for the {active.head} head, this unit has "
                                    f"the {self.head.name} head")
        if self.head.attached:
            wl = self.head.wavelengths_nm
            try:
                resample_to_model(wl, np.ones((1, wl.size)), active)
            except NotReady as exc:
                raise ModelPackageError(f"{path}: package {active.name}'s wavelength grid "
                                        f"({active.wavelengths_nm.min():g}–{active.wavelengths_nm.max():g} nm) does "
                                        f"not fit this unit's head ({wl.min():g}–{wl.max():g} nm): {exc}") from None
        return active

    def _open_package(self, path: str | Path, config: "DeviceConfig") -> ActiveModel:
        """The verified package with its ONNX session (`firmware.inference.Model.load`); the one
        step the page's tests replace, as they run without onnxruntime graphs of their own."""
        from .inference import Model  # onnxruntime is imported only when a model is loaded

        model = Model.load(path, config.model.trusted_issuers, threads=config.measurement.inference_threads)
        return ActiveModel.from_package(model.package, model)

    def _load_boot_model(self) -> None:
        """Kept package (installed at run time), else ``model.package``, else the newest shipped one."""
        candidates: list[tuple[str, Path]] = []
        try:
            kept = self.store.current()
        except PlastiNIRError as exc:
            self.model_errors.append(str(exc))
            kept = None
        if kept is not None:
            candidates.append(("installed", kept))
        if self.config.model.package is not None:
            candidates.append(("config model.package", Path(self.config.model.package)))
        shipped = newest_package(self.config.head.name)
        if shipped is not None:
            candidates.append(("shipped", shipped))
        for source, path in candidates:
            try:
                self.models.swap(self.load_model(path))
            except PlastiNIRError as exc:
                self.model_errors.append(f"{source} package refused: {exc}")
                self._event("model", "error", "model-refused", f"{source} model package refused at start: {exc}",
                            {"path": str(path)})
                continue
            self.model_source = f"{source}: {path}"
            return
        if not candidates:
            self.model_errors.append(f"no model package for the {self.config.head.name} head (set model.package)")
        self._event("model", "error", "no-model", "no usable model package: measuring is refused until one is "
                                                  "installed", {"errors": list(self.model_errors)})

    def install_model(self, path: str | Path, *, config: "DeviceConfig | None" = None) -> dict[str, Any]:
        """Verify ``path`` (folder or .zip) for this unit, keep it in the state directory, and put
        it in service atomically. Returns ``{installed, replaced, stored_as}``.

        A bad package raises `ModelPackageError` with the cause; the model in service is untouched
        and a ``model`` event records the refusal.
        """
        with self._install_lock:
            try:
                active = self.load_model(path, config=config)
                staged = self.store.stage(path)
                try:  # the kept copy must verify too: it is what the next start loads
                    load_package(staged, (config or self.config).model.trusted_issuers)
                    stored = self.store.commit(staged, active.name, active.version)
                except BaseException:
                    self.store.discard(staged)
                    raise
            except PlastiNIRError as exc:
                self._event("model", "warning", "model-refused", f"model package refused: {exc}",
                            {"path": str(path)})
                raise
            old = self.models.swap(active)
            self.model_source = f"installed: {stored}"
        replaced = old.summary() if old is not None else None
        self._event("model", "info", "model-installed",
                    f"model {active.name} {active.version} in service" +
                    (f" (replaces {old.name} {old.version})" if old is not None else ""),
                    {"installed": active.summary(), "replaced": replaced, "stored_as": stored.name})
        return {"installed": self.model_info(), "replaced": replaced, "stored_as": str(stored)}

    def model_info(self) -> dict[str, Any] | None:
        active = self.models.current()
        if active is None:
            return None
        wl = active.wavelengths_nm
        return {**active.summary(), "head": active.head, "source": self.model_source,
                "wavelengths": {"count": int(wl.size), "min_nm": float(wl.min()), "max_nm": float(wl.max())}}
