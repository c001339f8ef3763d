"""One validated config object for the device (`DeviceConfig`), read from TOML.

Sections live in small modules named after what they configure, each owned by the part of the
firmware that uses it. `load_config` is the only way in: it reads the file, applies command-line
overrides, validates everything (rules across sections included) and turns every failure into a
`ConfigError` that names the file, the key, the value and the reason — what `nir-device
check-config` prints for systemd's ``ExecStartPre=``.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping, TypeVar

from pydantic import Field, ValidationError

from ..errors import ConfigError
from .base import Section
from .hardware import HardwareSection
from .head import HeadSection
from .sim import SimSection
from .clock import ClockSection
from .http import HttpSection
from .journal import JournalSection
from .measurement import MeasurementSection
from .model import ModelSection
from .references import ReferencesSection
from .mqtt import MqttSection
from .runtime import RuntimeSection
from .calibration import CalibrationSection

ENV_CONFIG = "PLASTINIR_CONFIG"
S = TypeVar("S", bound=Section)


class DeviceConfig(Section):
    """The whole device configuration. Sections are added by the subsystems that own them."""

    unit: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Unit id; unset means nir- + 12 hex digits of the SHA-256 of the unit's public key.")
    hardware: HardwareSection = Field(default_factory=HardwareSection,
                                      description="Backend choice and the AD/DA board's wiring.")
    head: HeadSection = Field(default_factory=HeadSection, description="The mounted optical head and its acquisition.")
    sim: SimSection = Field(default_factory=SimSection, description="The simulated board (backend 'sim' only).")
    model: ModelSection = Field(default_factory=ModelSection, description="Model package and trusted issuers.")
    measurement: MeasurementSection = Field(default_factory=MeasurementSection,
                                            description="Scans per measurement and sample-quality limits.")
    references: ReferencesSection = Field(default_factory=ReferencesSection,
                                          description="White/dark reference validity and tile reflectance.")
    journal: JournalSection = Field(default_factory=JournalSection, description="Result journal retention.")
    clock: ClockSection = Field(default_factory=ClockSection, description="How clock synchronisation is judged.")
    http: HttpSection = Field(default_factory=HttpSection, description="The status page: address, access, limits.")
    mqtt: MqttSection = Field(default_factory=MqttSection, description="The broker of the MQTT link.")
    runtime: RuntimeSection = Field(default_factory=RuntimeSection,
                                    description="The acquisition loop: trigger button, periodic checks, watchdog.")
    calibration: CalibrationSection = Field(default_factory=CalibrationSection,
                                            description="Calibration certificate: required or not, trusted technicians.")


def _lookup(data: Any, loc: tuple) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return data


def format_validation_error(exc: ValidationError, source: str, data: Mapping) -> str:
    """One line per problem: ``FILE: key a.b = VALUE: reason``."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key {key!r} (value {_lookup(data, loc)!r}); check the spelling")
            continue
        value = _lookup(data, loc)
        shown = "<missing>" if value == "<missing>" else repr(value)
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: key {key} = {shown}: {msg}")
    return "\n".join(lines)


def _merge(base: dict, overrides: Mapping) -> dict:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_toml(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except PermissionError:
        raise ConfigError(f"{path}: config file not readable (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def validate_file(model: type[S], path: str | Path | None, overrides: Mapping | None = None) -> S:
    """``model`` validated from the TOML file ``path`` (None: built-in defaults) with ``overrides``
    (a nested mapping from command-line flags) winning over the file; any failure is a
    `ConfigError` naming file, key, value and reason. The device's and the bureau's loaders."""
    data = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "<defaults>"
    if overrides:
        data = _merge(data, overrides)
        source += " (with command-line overrides)"
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, data)) from None


def load_config(path: str | Path | None = None, overrides: Mapping | None = None) -> DeviceConfig:
    """Read ``path`` (else ``$PLASTINIR_CONFIG``, else built-in defaults) and validate it.

    ``overrides`` is a nested mapping from command-line flags (e.g. ``{"mqtt": {"broker":
    "none"}}``); it wins over the file.
    """
    if path is None and os.environ.get(ENV_CONFIG):
        path = os.environ[ENV_CONFIG]
    return validate_file(DeviceConfig, path, overrides)
