"""The bureau database: URL forms, one schema on both databases, versioned migrations."""
from __future__ import annotations

import pytest

from host.bureau.database import Database, parse_url, redact
from host.bureau.errors import DatabaseUrlError, SchemaVersionError
from host.bureau.migrations import LATEST, migrate, open_database, schema_version

TABLES = {"units", "results", "spectra", "events", "calibrations", "lab_results", "quarantine", "gaps"}


def test_url_forms():
    assert parse_url("sqlite:///bureau.db").path.as_posix() == "bureau.db"
    assert parse_url("sqlite:////var/lib/plastinir/b.db").path.as_posix() == "/var/lib/plastinir/b.db"
    assert parse_url("postgresql://u@h:5432/db").dialect == "postgresql"
    assert parse_url("postgres://u@h/db").dsn == "postgresql://u@h/db"
    for bad, words in [("sqlite://bureau.db", "three slashes"), ("mysql://x/y", "unsupported"),
                       ("", "empty"), ("sqlite:///", "no file path"), ("postgresql:///db", "no host")]:
        with pytest.raises(DatabaseUrlError, match=words):
            parse_url(bad)


def test_password_never_shown():
    assert redact("postgresql://bureau:s3cret@db.example:5432/b") == "postgresql://bureau:***@db.example:5432/b"
    with pytest.raises(DatabaseUrlError) as err:
        parse_url("mysql://bureau:s3cret@h/b")
    assert "s3cret" not in str(err.value)


def test_sqlite_directory_missing_is_named(tmp_path):
    with pytest.raises(Exception, match=str(tmp_path / "nope")):
        Database(f"sqlite:///{tmp_path}/nope/b.db")


def test_schema_has_every_table_and_migrating_twice_is_a_no_op(db_url):
    with open_database(db_url) as db:
        assert TABLES <= set(db.tables())
        assert schema_version(db) == LATEST
        assert migrate(db) == []


@pytest.mark.postgres
def test_same_tables_and_columns_on_sqlite_and_postgresql(tmp_path, pg_url):
    with open_database(f"sqlite:///{tmp_path}/b.db") as lite, open_database(pg_url) as pg:
        assert lite.tables() == pg.tables()


def test_newer_schema_is_refused(db_url):
    with open_database(db_url) as db:
        with db.transaction():
            db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       (LATEST + 1, "from the future", "2030-01-01T00:00:00Z"))
    with pytest.raises(SchemaVersionError, match="newer than this nir-host"):
        open_database(db_url)


def test_failed_transaction_leaves_nothing(db_url):
    with open_database(db_url) as db:
        with pytest.raises(RuntimeError):
            with db.transaction():
                db.execute("INSERT INTO units (unit, public_key, registered_at, registered_by) VALUES (?, ?, ?, ?)",
                           ("u1", "k", "t", "cli"))
                raise RuntimeError("boom")
        assert db.query("SELECT COUNT(*) FROM units") == [(0,)]
