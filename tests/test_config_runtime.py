"""The device-runtime config sections: defaults, the example file, rules and secrets."""
from pathlib import Path

import pytest
from pydantic import SecretStr

from firmware.config import load_config
from firmware.config.model import ModelSection, newest_package, read_trusted_issuers
from firmware.config.secrets import env_name, read_secret, require_secret
from firmware.errors import ConfigError
from firmware.signing import generate_key, public_key_b64

REPO = Path(__file__).resolve().parents[1]


def test_empty_config_is_valid_with_documented_defaults():
    c = load_config(None)
    assert c.measurement.n_scans == 3 and c.references.tile_reflectance == 0.99
    assert c.journal.max_age_days == 365 and c.clock.synced == "auto"
    assert isinstance(c.model.trusted_issuers, list)


def test_models_are_found_in_a_checkout_or_where_setup_py_installs_them(tmp_path):
    from firmware.config.model import MODELS_DIR, find_models_dir
    assert MODELS_DIR == REPO / "models"  # this checkout
    checkout, installed = tmp_path / "checkout" / "models", tmp_path / "prefix" / "share" / "plastinir" / "models"
    installed.mkdir(parents=True)
    assert find_models_dir(checkout, installed) == installed  # `pip install '.[pi]'`: no checkout beside the code
    checkout.mkdir(parents=True)
    assert find_models_dir(checkout, installed) == checkout


def test_example_config_loads_and_matches_defaults():
    c = load_config(REPO / "config" / "device.example.toml")
    d = load_config(None)
    for section in ("measurement", "references", "journal", "clock", "mqtt", "runtime"):
        assert getattr(c, section) == getattr(d, section), section


def test_every_field_is_described():
    from firmware.config import DeviceConfig

    def walk(model):
        for name, f in model.model_fields.items():
            assert f.description, f"{model.__name__}.{name} has no description"
            ann = f.annotation
            if isinstance(ann, type) and hasattr(ann, "model_fields"):
                walk(ann)
    walk(DeviceConfig)


def test_cross_field_rule_names_file_key_value(tmp_path):
    p = tmp_path / "device.toml"
    p.write_text("[measurement]\nempty_max_reflectance = 0.1\ndark_max_reflectance = 0.05\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert str(p) in msg and "key measurement" in msg and "empty_max_reflectance (0.1) must be below" in msg


@pytest.mark.parametrize("text, match", [
    ("[measurement]\nn_scans = 0\n", r"key measurement.n_scans = 0: Input should be greater than or equal to 1"),
    ("[references]\ntile_reflectance = 1.5\n", r"key references.tile_reflectance = 1.5"),
    ("[journal]\nmax_results = 'many'\n", r"key journal.max_results = 'many'"),
    ("[clock]\nsynced = 'sometimes'\n", r"key clock.synced = 'sometimes'"),
    ("[measurment]\nn_scans = 3\n", r"unknown key 'measurment'"),
    ("[model]\ntrusted_issuers = ['not-a-key']\n", r"key model.trusted_issuers = \['not-a-key'\]: entry 0"),
])
def test_bad_values_are_named(tmp_path, text, match):
    p = tmp_path / "device.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_trusted_issuers_file(tmp_path):
    k1, k2 = public_key_b64(generate_key()), public_key_b64(generate_key())
    f = tmp_path / "TRUSTED_ISSUERS"
    f.write_text(f"# PlastiNIR release key\n{k1}\n\n{k2}  # lab key\n")
    assert read_trusted_issuers(f) == [k1, k2]
    assert read_trusted_issuers(tmp_path / "absent") == []
    f.write_text(f"{k1}\nnot base64!\n")
    with pytest.raises(ValueError, match=r"TRUSTED_ISSUERS line 2"):
        read_trusted_issuers(f)
    assert ModelSection(trusted_issuers=[k1]).trusted_issuers == [k1]
    with pytest.raises(ValueError, match="same key twice"):
        ModelSection(trusted_issuers=[k1, k1])


def test_newest_package(tmp_path):
    for name in ("fpi-1550-1850-v2", "fpi-1550-1850-v10", "led8-8band-v3"):
        (tmp_path / name).mkdir()
    (tmp_path / "fpi-1550-1850-v11.txt").write_text("not a package")
    assert newest_package("fpi", tmp_path).name == "fpi-1550-1850-v10"
    assert newest_package("led8", tmp_path).name == "led8-8band-v3"
    assert newest_package("xyz", tmp_path) is None


def test_secret_lookup_order(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    env = {env_name("mqtt_password"): "from-env"}
    assert read_secret("mqtt_password", "inline", environ={}).get_secret_value() == "inline"
    assert read_secret("mqtt_password", SecretStr("inline"), environ=env).get_secret_value() == "from-env"
    (creds / "mqtt_password").write_text("from-credential\n")
    env["CREDENTIALS_DIRECTORY"] = str(creds)
    assert read_secret("mqtt_password", "inline", environ=env).get_secret_value() == "from-credential"
    (creds / "mqtt_password").write_text("")  # an installer's empty placeholder is "not set"
    assert read_secret("mqtt_password", None, environ=env).get_secret_value() == "from-env"
    assert read_secret("web_password_hash", None, environ={}) is None
    with pytest.raises(ConfigError, match=r"LoadCredential=web_password_hash.*PLASTINIR_WEB_PASSWORD_HASH"):
        require_secret("web_password_hash", needed_for="the technician login", environ={})
    assert "from-env" not in repr(read_secret("mqtt_password", None, environ={env_name("mqtt_password"): "from-env"}))
