import pytest

from firmware.config import load_config
from firmware.errors import ConfigError


def test_defaults_load():
    assert load_config(None).unit is None


def test_unknown_key_names_file_key_and_value(tmp_path):
    p = tmp_path / "device.toml"
    p.write_text('unit = "nir-test"\nunitt = "typo"\n')
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert str(p) in msg and "'unitt'" in msg and "'typo'" in msg


def test_bad_value_names_reason(tmp_path):
    p = tmp_path / "device.toml"
    p.write_text('unit = "has space"\n')
    with pytest.raises(ConfigError, match=r"key unit = 'has space': String should match pattern"):
        load_config(p)


def test_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "device.toml"
    p.write_text("unit = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_overrides_win(tmp_path):
    p = tmp_path / "device.toml"
    p.write_text('unit = "nir-a"\n')
    assert load_config(p, {"unit": "nir-b"}).unit == "nir-b"
