"""A real PostgreSQL server for tests: a throwaway cluster, or the server in ``PLASTINIR_TEST_PG``.

The throwaway cluster is made with ``initdb`` and run with ``pg_ctl`` from
``/usr/lib/postgresql/<version>/bin`` (Debian keeps them off PATH). Both refuse to run as root,
so as root (CI) they run as the ``postgres`` user through ``runuser``, in a temporary directory
that user owns, listening on a free loopback port and a unix socket in that directory. Each test
then gets a fresh database (`PostgresServer.create_database`), dropped afterwards.

``durable=False`` (the test default) turns fsync off: tests prove logic, not disks. Benchmarks
start a durable cluster so the figures mean what a bureau would see.
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .ports import free_port

ENV_URL = "PLASTINIR_TEST_PG"


class PostgresUnavailable(RuntimeError):
    """No server can be had here; the message says what is missing (tests skip with it)."""


def pg_bin_dir() -> Path | None:
    """Newest ``/usr/lib/postgresql/*/bin`` with initdb, else the directory of ``initdb`` on PATH."""
    def version(path: str) -> tuple:
        try:
            return tuple(int(p) for p in Path(path).parent.name.split("."))
        except ValueError:
            return (0,)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: version(Path(p).parent))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PostgresServer:
    """A server tests may create databases on. ``admin_url`` connects to its maintenance db."""

    def __init__(self, admin_url: str, owned: "_Cluster | None" = None):
        self.admin_url = admin_url
        self._cluster = owned

    def _url_for(self, dbname: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))

    def create_database(self, prefix: str = "plastinir_test") -> str:
        """A new empty database; returns its ``postgresql://`` URL."""
        import psycopg
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self._url_for(name)

    def drop_database(self, url: str) -> None:
        import psycopg
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None


class _Cluster:
    """initdb + pg_ctl in a temporary directory, as the ``postgres`` user when we are root."""

    def __init__(self, bindir: Path, durable: bool):
        self.bindir = bindir
        self.durable = durable
        self.as_user: list[str] = []
        self.owner_uid = os.getuid()
        self.owner_gid = os.getgid()
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no 'postgres' user to run initdb "
                                          "(install the Debian package postgresql)") from None
            runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
            if runuser is None:
                raise PostgresUnavailable("running as root and 'runuser' is missing (util-linux)")
            self.as_user = [runuser, "-u", "postgres", "--"]
            self.owner_uid, self.owner_gid = pw.pw_uid, pw.pw_gid
        # Directly in the temp dir (not under pytest's 0700 per-user dir) so 'postgres' can reach it.
        self.root = Path(tempfile.mkdtemp(prefix="plastinir-pg-"))
        os.chown(self.root, self.owner_uid, self.owner_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port: int | None = None

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [*self.as_user, *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root,
                              env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})
        return done

    def start(self) -> str:
        done = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions")
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        settings = ["-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.root}",
                    "-c max_connections=60", "-c shared_buffers=64MB"]
        if not self.durable:
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        last = ""
        for _ in range(5):
            self.port = free_port()
            done = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                             "-t", "60", "-o", " ".join([f"-p {self.port}", *settings]), "start")
            if done.returncode == 0:
                return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
            last = self._log_tail()
            if "already in use" not in last:
                break
            time.sleep(0.1)
        raise PostgresUnavailable(f"pg_ctl start failed: {last}")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        if self.data.exists() and self.port is not None:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(*, durable: bool = False) -> PostgresServer:
    """``PLASTINIR_TEST_PG`` if set (a URL of a database we may CREATE DATABASE from), else a cluster.

    Raises `PostgresUnavailable` naming what is missing.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise PostgresUnavailable("psycopg is not installed (pip install '.[host]')") from None
    url = os.environ.get(ENV_URL)
    if url:
        return PostgresServer(url)
    bindir = pg_bin_dir()
    if bindir is None:
        raise PostgresUnavailable("no initdb in /usr/lib/postgresql/*/bin or on PATH "
                                  "(install the Debian package postgresql, or set PLASTINIR_TEST_PG)")
    cluster = _Cluster(bindir, durable)
    atexit.register(cluster.stop)  # a safety net if the caller never stops it (stop is idempotent)
    try:
        admin = cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return PostgresServer(admin, cluster)
