"""Secrets (broker password, page password hash, TLS key passphrase) without putting them in the file.

A config file is copied around, printed by ``check-config --json`` and committed to examples;
a secret in it leaks. So a secret is looked up, in this order:

1. a systemd credential ``$CREDENTIALS_DIRECTORY/<name>`` (``LoadCredential=<name>:/etc/…`` in
   the unit file: readable by the service only, never in the environment of child processes);
2. an environment variable (``PLASTINIR_<NAME>`` in upper case, e.g. ``PLASTINIR_MQTT_PASSWORD``),
   for containers and development;
3. the value written in the config file, if the owner of that section allows one (labs).

Sections declare secret fields as ``pydantic.SecretStr | None`` (so dumps show ``**********``)
and resolve them with `read_secret` when they are used, not when the config is validated: a
missing secret is only an error for the part that needs it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import SecretStr

from ..errors import ConfigError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
ENV_PREFIX = "PLASTINIR_"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def env_name(name: str) -> str:
    """The environment variable that carries secret ``name``: ``mqtt_password`` → ``PLASTINIR_MQTT_PASSWORD``."""
    return ENV_PREFIX + name.upper()


def read_secret(name: str, inline: SecretStr | str | None = None, *,
                environ: dict[str, str] | None = None) -> SecretStr | None:
    """The secret called ``name`` from credentials, environment or config (in that order), or None.

    A trailing newline in a credential file is dropped (``echo secret > file`` is the common way
    to make one); any other whitespace is kept because it may be part of a password. An empty
    credential file or variable counts as not set (an installer may create them empty).
    """
    if not _NAME.match(name):
        raise ValueError(f"secret name {name!r} must be lower-case letters, digits and '_'")
    env = os.environ if environ is None else environ
    cred_dir = env.get(CREDENTIALS_ENV)
    if cred_dir:
        path = Path(cred_dir) / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: systemd credential {name!r} unreadable: {exc}") from exc
        else:
            text = text[:-1] if text.endswith("\n") else text
            if text:
                return SecretStr(text)
    value = env.get(env_name(name))
    if value:
        return SecretStr(value)
    if inline is None:
        return None
    return inline if isinstance(inline, SecretStr) else SecretStr(inline)


def require_secret(name: str, inline: SecretStr | str | None = None, *, needed_for: str,
                   environ: dict[str, str] | None = None) -> SecretStr:
    """Like `read_secret`, but a missing secret is a `ConfigError` that says where to put it."""
    value = read_secret(name, inline, environ=environ)
    if value is None:
        raise ConfigError(f"secret {name!r} needed for {needed_for} is not set: provide it as a systemd "
                          f"credential (LoadCredential={name}:/etc/plastinir/{name}) or in the "
                          f"environment variable {env_name(name)}")
    return value
