"""Where the device keeps what must survive a restart: journal, unit key, lock.

Under systemd, ``StateDirectory=plastinir`` creates ``/var/lib/plastinir`` owned by the service
user and passes it as ``$STATE_DIRECTORY``; elsewhere (development, the demo, tests) the
directory comes from ``--state-dir`` or defaults to ``state/device`` under the working directory.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import JournalError

ENV_STATE_DIRECTORY = "STATE_DIRECTORY"
DEFAULT_STATE_DIR = Path("state") / "device"


def resolve_state_dir(path: str | Path | None = None, *, create: bool = True) -> Path:
    """``path``, else the first entry of ``$STATE_DIRECTORY``, else ``state/device``; made 0700 if new."""
    if path is None:
        env = os.environ.get(ENV_STATE_DIRECTORY, "")
        path = env.split(":")[0] if env else DEFAULT_STATE_DIR
    path = Path(path)
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"{path}: cannot create the state directory: {exc.strerror}") from exc
    if not path.is_dir():
        raise JournalError(f"{path}: state directory does not exist")
    return path
