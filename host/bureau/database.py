"""One small connection type over SQLite and PostgreSQL, so the bureau's SQL is written once.

``--db`` takes ``sqlite:///PATH`` (relative; ``sqlite:////abs/path`` for an absolute path, the
SQLAlchemy convention) or ``postgresql://…`` (libpq URL, psycopg 3). SQL is written with ``?``
placeholders and the portable subset both speak (``ON CONFLICT``, ``RETURNING``-free); the few
dialect differences (row locks, column types in DDL) are asked of `Database.dialect`.

SQLite runs in WAL mode with ``synchronous=FULL``: the bureau acknowledges a result only after
its commit, and an acknowledged result must survive a power cut, so the commit must reach the disk.
Write transactions take the write lock up front (``BEGIN IMMEDIATE``) so two ingesters on one
file queue up instead of failing half-way with "database is locked".
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from .errors import DatabaseError, DatabaseUnavailable, DatabaseUrlError

DEFAULT_URL = "sqlite:///bureau.db"
SQLITE = "sqlite"
POSTGRESQL = "postgresql"


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed ``--db`` value; ``path`` is set for SQLite, ``dsn`` for PostgreSQL."""

    dialect: str
    url: str
    path: Path | None = None
    dsn: str | None = None

    @property
    def redacted(self) -> str:
        return redact(self.url)


def parse_url(url: str) -> DatabaseUrl:
    """Check the form of ``--db``; `DatabaseUrlError` says which forms are accepted."""
    if not isinstance(url, str) or not url:
        raise DatabaseUrlError("database URL is empty; use sqlite:///PATH or postgresql://USER@HOST/DB")
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path:
            raise DatabaseUrlError(f"{url!r}: no file path after sqlite:///")
        return DatabaseUrl(SQLITE, url, path=Path(path))
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        dsn = "postgresql" + url[len(scheme):]
        if not urlsplit(dsn).netloc and "host=" not in dsn:
            raise DatabaseUrlError(f"{redact(url)!r}: no host in the PostgreSQL URL "
                                   "(postgresql://USER@HOST:PORT/DB, or ?host=/run/postgresql)")
        return DatabaseUrl(POSTGRESQL, url, dsn=dsn)
    if url.startswith("sqlite:"):
        raise DatabaseUrlError(f"{url!r}: SQLite URLs have three slashes: sqlite:///bureau.db "
                               "(relative) or sqlite:////var/lib/plastinir/bureau.db (absolute)")
    raise DatabaseUrlError(f"{redact(url)!r}: unsupported database URL; use sqlite:///PATH or postgresql://…")


def _transient_sqlite(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


class Database:
    """A connection to the bureau database, used by one thread at a time.

    Every driver error leaves as `DatabaseError` naming the redacted URL; a lost connection or a
    lock/deadlock timeout as `DatabaseUnavailable`, which callers retry.
    """

    def __init__(self, url: str | DatabaseUrl = DEFAULT_URL):
        self.url = url if isinstance(url, DatabaseUrl) else parse_url(url)
        self.dialect = self.url.dialect
        self._conn: Any = None
        self._sql_cache: dict[str, str] = {}
        self._in_transaction = False
        self.connect()

    # --- connection -----------------------------------------------------------------------
    def connect(self) -> None:
        self.close()
        if self.dialect == SQLITE:
            path = self.url.path
            assert path is not None
            if not path.parent.exists():
                raise DatabaseError(f"{self.url.redacted}: directory {path.parent} does not exist")
            try:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise DatabaseError(f"{self.url.redacted}: cannot open SQLite database: {exc}") from exc
            self._conn = conn
        else:
            import psycopg
            try:
                self._conn = psycopg.connect(self.url.dsn, autocommit=True, connect_timeout=10,
                                             application_name="nir-bureau")
            except psycopg.Error as exc:
                raise DatabaseUnavailable(f"{self.url.redacted}: cannot connect to PostgreSQL: "
                                          f"{str(exc).strip()}") from exc

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a broken connection must not hide the original error
                pass
            self._conn = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    # --- statements -----------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        if self.dialect == SQLITE:
            return sql
        cached = self._sql_cache.get(sql)
        if cached is None:
            cached = self._sql_cache[sql] = sql.replace("%", "%%").replace("?", "%s")
        return cached

    def _wrap(self, exc: Exception, sql: str) -> DatabaseError:
        head = " ".join(sql.split())[:80]
        if self.dialect == SQLITE:
            cls = DatabaseUnavailable if _transient_sqlite(exc) else DatabaseError
            return cls(f"{self.url.redacted}: {exc} (in: {head})")
        import psycopg
        transient = isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))
        cls = DatabaseUnavailable if transient else DatabaseError
        return cls(f"{self.url.redacted}: {str(exc).strip()} (in: {head})")

    def _errors(self):
        if self.dialect == SQLITE:
            return (sqlite3.Error,)
        import psycopg
        # psycopg refuses NUL characters in text client-side with a ValueError-like DataError.
        return (psycopg.Error,)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self._conn is None:
            raise DatabaseUnavailable(f"{self.url.redacted}: not connected")
        try:
            return self._conn.execute(self._sql(sql), tuple(params))
        except self._errors() as exc:
            raise self._wrap(exc, sql) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run ``sql`` for every row; returns the number of rows changed (inserted)."""
        if self._conn is None:
            raise DatabaseUnavailable(f"{self.url.redacted}: not connected")
        rows = list(rows)
        if not rows:
            return 0
        try:
            cur = self._conn.cursor()
            cur.executemany(self._sql(sql), rows)
            return cur.rowcount
        except self._errors() as exc:
            raise self._wrap(exc, sql) from exc

    def insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                    conflict: Sequence[str]) -> int:
        """``INSERT … ON CONFLICT (conflict) DO NOTHING`` for every row; returns rows inserted.

        On PostgreSQL a big batch is ``COPY``-ed straight into the table inside a savepoint: a
        fraction of the CPU of one statement per row, which is what limits the ingester. COPY
        knows no ``ON CONFLICT``, so a batch holding a row that is already there (a re-sent
        result) rolls back to the savepoint and goes through a temporary staging table and one
        ``INSERT … SELECT … ON CONFLICT DO NOTHING`` instead. The staging table is created on demand
        (``IF NOT EXISTS``), so a rolled-back transaction or a reconnect cannot leave it missing.
        """
        cols = ", ".join(columns)
        keys = ", ".join(conflict)
        if self.dialect == SQLITE or len(rows) < 8:
            return self.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))}) "
                                    f"ON CONFLICT ({keys}) DO NOTHING", rows)
        if self._conn is None:
            raise DatabaseUnavailable(f"{self.url.redacted}: not connected")
        staging = f"staging_{table}"
        import psycopg
        try:
            cur = self._conn.cursor()
            try:
                with self._conn.transaction():  # a savepoint: COPY fails as a whole on a duplicate
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                return len(rows)
            except psycopg.errors.UniqueViolation:
                pass  # some rows are there already: the path that skips them
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS")
            with cur.copy(f"COPY {staging} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} ON CONFLICT ({keys}) DO NOTHING")
            inserted = cur.rowcount
            cur.execute(f"DELETE FROM {staging}")
            return inserted
        except psycopg.Error as exc:
            raise self._wrap(exc, f"COPY into {table}") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(sql, params).fetchone()

    @contextmanager
    def transaction(self) -> Iterator["Database"]:
        """One write transaction: committed when the block ends, rolled back on any exception."""
        if self._conn is None:
            raise DatabaseUnavailable(f"{self.url.redacted}: not connected")
        if self._in_transaction:
            raise RuntimeError("nested transaction")
        self._in_transaction = True
        try:
            if self.dialect == SQLITE:
                self.execute("BEGIN IMMEDIATE")
                try:
                    yield self
                    self.execute("COMMIT")
                except BaseException:
                    if self._conn is not None and self._conn.in_transaction:
                        try:
                            self._conn.rollback()
                        except sqlite3.Error:
                            pass
                    raise
            else:
                import psycopg
                try:
                    with self._conn.transaction():
                        yield self
                except psycopg.Error as exc:  # raised by the COMMIT itself
                    raise self._wrap(exc, "COMMIT") from exc
        finally:
            self._in_transaction = False

    # --- dialect helpers ------------------------------------------------------------------
    def lock_rows_sql(self) -> str:
        """Suffix that locks the selected rows until commit (PostgreSQL); SQLite's BEGIN IMMEDIATE
        already holds the one write lock."""
        return " FOR UPDATE" if self.dialect == POSTGRESQL else ""

    def tables(self) -> dict[str, list[str]]:
        """``{table: [column, …]}`` of the user tables, for schema checks in tests and tools."""
        if self.dialect == SQLITE:
            names = [r[0] for r in self.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            return {n: [r[1] for r in self.query(f'PRAGMA table_info("{n}")')] for n in sorted(names)}
        rows = self.query("SELECT table_name, column_name FROM information_schema.columns "
                          "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")
        out: dict[str, list[str]] = {}
        for table, column in rows:
            out.setdefault(table, []).append(column)
        return out
