"""The shipped example configs: each passes its own ``check-config`` and shows every section and
every setting (commented out where the default is right), so an operator finds every key there."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from firmware.cli import main as device_main
from firmware.config import DeviceConfig
from host.bureau.config import BureauConfig
from host.cli import main as host_main

REPO = Path(__file__).resolve().parents[1]
DEVICE_EXAMPLE = REPO / "config" / "device.example.toml"
BUREAU_EXAMPLE = REPO / "config" / "bureau.example.toml"


def settings(model: type[BaseModel], prefix: str = "") -> tuple[list[str], list[tuple[str, str]]]:
    """(section tables ``a.b``, (table, key) of every scalar setting) of a config model."""
    tables, keys = [], []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            tables.append(prefix + name)
            sub_tables, sub_keys = settings(ann, f"{prefix}{name}.")
            tables += sub_tables
            keys += sub_keys
        else:
            keys.append((prefix.rstrip("."), field.alias or name))
    return tables, keys


def shown(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Tables and (table, key) pairs written in a TOML file, commented-out keys included."""
    tables, keys, table = set(), set(), ""
    for line in text.splitlines():
        if m := re.match(r"^\s*\[([A-Za-z0-9_.]+)\]", line):
            table = m.group(1)
            tables.add(table)
        elif m := re.match(r"^\s*#?\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", line):
            keys.add((table, m.group(1)))
    return tables, keys


@pytest.mark.parametrize("model, example", [(DeviceConfig, DEVICE_EXAMPLE), (BureauConfig, BUREAU_EXAMPLE)])
def test_example_shows_every_section_and_setting(model, example):
    tables, keys = settings(model)
    have_tables, have_keys = shown(example.read_text())
    assert set(tables) <= have_tables, f"{example.name} lacks sections {sorted(set(tables) - have_tables)}"
    missing = sorted(f"{t}.{k}" if t else k for t, k in set(keys) - have_keys)
    assert not missing, f"{example.name} does not show {missing}"


def test_device_example_passes_check_config(capsys):
    assert device_main(["check-config", "--config", str(DEVICE_EXAMPLE)]) == 0
    assert f"{DEVICE_EXAMPLE}: ok" in capsys.readouterr().out


def test_bureau_example_passes_check_config(capsys):
    assert host_main(["bureau", "--config", str(BUREAU_EXAMPLE), "--check-config"]) == 0
    assert '"db": "postgresql://plastinir@localhost/bureau"' in capsys.readouterr().out
