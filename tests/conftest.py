"""Fixtures shared by the whole suite.

Real data lives outside the repo (DESIGN.md): tests that need it use the ``data_dir`` fixture,
which skips with the reason when the folder is absent.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from firmware.signing import generate_key, public_key_b64, unit_id_for

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("PLASTINIR_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "SOURCES.md").exists():
        pytest.skip(f"real spectra folder {path} absent (set PLASTINIR_DATA to run data tests)")
    return path


@pytest.fixture
def unit_key():
    """A throwaway unit key: (private key, base64 public key, unit id)."""
    key = generate_key()
    pub = public_key_b64(key)
    return key, pub, unit_id_for(pub)


def unsigned_record(unit_id: str, seq: int = 1, **changes) -> dict:
    """A complete, plausible ``plastinir.result/1`` record without its signature."""
    wl = [1550.0 + 5 * i for i in range(61)]
    record = {
        "schema": "plastinir.result/1",
        "unit": unit_id,
        "seq": seq,
        "uuid": str(uuid.uuid4()),
        "boot_id": "b7c0e6f2",
        "time": "2026-11-27T08:31:08.123Z",
        "clock_synced": True,
        "model": {"name": "fpi-1550-1850-v1", "version": "1", "sha256": "a" * 64},
        "calibration_id": None,
        "operator": "inspector-7",
        "sample": {"sample_id": "S-001", "merchant": "Shop A", "location": "Utrecht", "batch": "B1",
                   "product": "carrier bag", "claimed_material": "PLA"},
        "verdict": "identified",
        "reason": None,
        "class": "HDPE",
        "degradable": False,
        "confidence": 0.97,
        "scores": {"HDPE": 0.97, "PLA": 0.03},
        "t2": 3.2,
        "q": 0.01,
        "limits": {"t2": 12.0, "q": 0.05},
        "composition": {},
        "wavelengths_nm": wl,
        "spectrum": [0.5] * len(wl),
        "raw": {"dark": [100.0] * len(wl), "lit": [50000.0] * len(wl)},
        "timings_ms": {"acquire": 900.0, "inference": 0.2},
    }
    record.update(changes)
    return record


# --- real parts: Mosquitto, PostgreSQL and a bureau ingester (helpers in tests/support) -------
#
# broker                 a started plain Mosquitto (MosquittoBroker: .url, .port, .kill(), .start(), .restart())
# broker_factory(**kw)   more brokers: persistence=, users=, acl=, tls=, require_certificate=; all stopped after
# secure_broker_factory(*unit_ids, prefix=)  TLS + password file + the shipped ACL; .users holds the passwords
# pg_server              session-wide PostgreSQL (throwaway cluster, or PLASTINIR_TEST_PG)
# pg_url                 a fresh, empty PostgreSQL database URL, dropped after the test
# db_url                 parametrized: a fresh sqlite:/// URL, then a fresh postgresql:// URL
# bureau_factory(db_url, broker_url, **config)  a started in-process Ingester (ready), stopped after
# register_unit(db_url, unit_id, public_key)    nir-host units add, as a function

from support.mosquitto import (MosquittoBroker, mosquitto_binary, mosquitto_passwd_binary,  # noqa: E402
                               secure_options)
from support.postgres import PostgresUnavailable, start_server  # noqa: E402


@pytest.fixture(scope="session")
def mosquitto_bin() -> str:
    found = mosquitto_binary()
    if found is None:
        pytest.skip("mosquitto binary not found (Debian package 'mosquitto'; .ci/run installs it)")
    return found


@pytest.fixture
def broker_factory(tmp_path, mosquitto_bin):
    """Start brokers with options (see `MosquittoBroker`); every one is stopped after the test."""
    started: list[MosquittoBroker] = []

    def make(**options) -> MosquittoBroker:
        b = MosquittoBroker(tmp_path / f"broker{len(started)}", **options)
        started.append(b)
        return b.start()

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def broker(broker_factory) -> MosquittoBroker:
    """A plain broker (anonymous, no persistence) on a free loopback port."""
    return broker_factory()


@pytest.fixture
def secure_broker_factory(broker_factory):
    """``make(*unit_ids, prefix="plastinir")``: TLS listener (a generated CA: ``.ca_file``), password
    file (``.users[name]``, the bureau's user is ``bureau``) and the shipped ACL; the plain listener
    requires passwords too."""
    if mosquitto_passwd_binary() is None:
        pytest.skip("mosquitto_passwd not found (Debian package 'mosquitto')")

    def make(*unit_ids: str, prefix: str = "plastinir", **options) -> MosquittoBroker:
        return broker_factory(**secure_options(list(unit_ids), prefix=prefix), **options)
    return make


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A fresh bureau database URL; tests using it run once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bureau.db'}"
    return request.getfixturevalue("pg_url")


def register_unit(db_url: str, unit_id: str, public_key: str) -> None:
    """What ``nir-host units add UNIT --public-key KEY --db URL`` does."""
    from host.bureau.migrations import open_database
    from host.bureau.units import add_unit
    with open_database(db_url) as db:
        add_unit(db, unit_id, public_key)


def bureau_config(db_url: str, broker_url: str, **overrides):
    """A `BureauConfig` for tests: fast reconnects, small batches; ``overrides`` as nested dicts
    or dotted keys (``mqtt__username="bureau"`` sets mqtt.username)."""
    from host.bureau.config import load_bureau_config
    data: dict = {"db": db_url, "mqtt": {"broker": broker_url, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
                  "ingest": {"batch_wait_ms": 5, "stats_log_interval_s": 3600}}
    for key, value in overrides.items():
        if "__" in key:
            section, field = key.split("__", 1)
            data.setdefault(section, {})[field] = value
        elif isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return load_bureau_config(None, data)


@pytest.fixture
def bureau_factory():
    """``make(db_url, broker_url, client_id=None, wait=True, **overrides)`` → a started `Ingester`."""
    from host.bureau.ingester import Ingester
    started = []

    def make(db_url: str, broker_url: str, *, client_id: str | None = None, wait: bool = True, **overrides):
        ing = Ingester(bureau_config(db_url, broker_url, **overrides), client_id=client_id)
        started.append(ing)
        ing.start()
        if wait and not ing.wait_ready(10):
            raise AssertionError(f"ingester not ready: {ing.last_error}")
        return ing

    yield make
    for ing in started:
        ing.stop()


_BROKER_FIXTURES = {"broker", "broker_factory", "secure_broker_factory", "mosquitto_bin"}
_POSTGRES_FIXTURES = {"pg_server", "pg_url"}


def pytest_collection_modifyitems(config, items):
    """Mark tests by the real parts their fixtures start, so ``-m "not broker"`` selects by need."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _BROKER_FIXTURES:
            item.add_marker(pytest.mark.broker)
        if names & _POSTGRES_FIXTURES or "[postgresql]" in item.nodeid:
            item.add_marker(pytest.mark.postgres)
