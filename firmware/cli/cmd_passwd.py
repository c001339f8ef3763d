"""``nir-device passwd``: set the technician password of the status page.

Only the hash is written (werkzeug's scrypt by default, or pbkdf2-sha256), to ``--out``, else the
config's ``http.password_hash_file``, else ``<state dir>/web_password_hash`` — mode 0600,
written to a temporary name and renamed, so a reader never sees half a hash. The password is
read without echo and asked twice (or one line from ``--stdin`` for scripts) and never printed.
The page reads the hash at every login, so no restart is needed; existing logins end because
their sessions were made against the old hash.

With systemd, writing ``--out /etc/credstore/web_password_hash`` (as root) makes it the service
credential ``web_password_hash``, which takes precedence over the file in the state directory.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
from pathlib import Path

from ..config.secrets import read_secret
from ..errors import ConfigError, KeyFileError
from .common import add_common, config_from, state_dir_from

HELP = "set the status page's technician password (stores only its hash)"
MIN_LENGTH = 8
METHODS = {"scrypt": "scrypt", "pbkdf2": "pbkdf2:sha256:600000"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--stdin", action="store_true",
                        help="read the password from the first line of standard input (for scripts)")
    parser.add_argument("--out", metavar="FILE",
                        help="write the hash here (default: http.password_hash_file, else "
                             "<state dir>/web_password_hash); e.g. /etc/credstore/web_password_hash")
    parser.add_argument("--method", choices=sorted(METHODS), default="scrypt",
                        help="hash: scrypt (memory-hard, default) or pbkdf2 (sha256, 600000 rounds)")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    else:
        password = getpass.getpass("New technician password: ")
        if getpass.getpass("Repeat it: ") != password:
            raise ConfigError("the two passwords differ; nothing was changed")
    if len(password) < MIN_LENGTH:
        raise ConfigError(f"the password must be at least {MIN_LENGTH} characters; nothing was changed")
    if password != password.strip():
        raise ConfigError("the password starts or ends with whitespace (a copy-paste slip?); nothing was changed")
    return password


def write_hash(path: Path, pw_hash: str) -> None:
    """Atomically replace ``path`` with the hash, mode 0600 from the start.

    Run as root (the usual way on a unit), the file gets the owner of its directory: in the
    service's state directory that is the service user, who must read it; in
    ``/etc/credstore`` it stays root's (systemd reads credentials as root).
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp makes it 0600
        try:
            if os.geteuid() == 0:
                owner = path.parent.stat()
                os.fchown(fd, owner.st_uid, owner.st_gid)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(pw_hash + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot write the password hash: {exc.strerror or exc}") from exc


def run(args: argparse.Namespace) -> int:
    # Imported here: every nir-device command imports every command module, and this one needs Flask.
    from werkzeug.security import generate_password_hash

    from ..web.security import PASSWORD_SECRET, password_hash_file
    config = config_from(args)
    if args.out:
        target = Path(args.out)
    elif config.http.password_hash_file:
        target = Path(config.http.password_hash_file)
    else:
        target = password_hash_file(config.http, state_dir_from(args))
    password = _read_password(args.stdin)
    write_hash(target, generate_password_hash(password, method=METHODS[args.method]))
    print(f"technician password hash written to {target}", file=sys.stderr)
    if read_secret(PASSWORD_SECRET, config.http.password_hash) is not None:
        print(f"note: the secret {PASSWORD_SECRET!r} (systemd credential, PLASTINIR_WEB_PASSWORD_HASH or "
              f"http.password_hash) is set and takes precedence over {target}", file=sys.stderr)
    return 0
