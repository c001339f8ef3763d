"""``python -m host.calib.trusted DIR``: write ``DIR/TRUSTED_ISSUERS`` from the packages in DIR.

The device trusts the shipped models by default through this file: one base64 Ed25519 public
key per line, ``#`` comment lines allowed. Each package is verified before its key is listed.
"""
from __future__ import annotations

import sys
from pathlib import Path

from firmware.model_package import load_package

FILE = "TRUSTED_ISSUERS"


def read_trusted(path: str | Path) -> list[str]:
    """Public keys of a TRUSTED_ISSUERS file (comments and blank lines skipped)."""
    return [l.strip() for l in Path(path).read_text().splitlines() if l.strip() and not l.lstrip().startswith("#")]


def main(argv=None) -> int:
    folder = Path((argv or sys.argv[1:] or ["models"])[0])
    keys = []
    for manifest in sorted(folder.glob("*/manifest.json")):
        pkg = load_package(manifest.parent, None)
        if pkg.issuer_public_key not in keys:
            keys.append(pkg.issuer_public_key)
    (folder / FILE).write_text("# Ed25519 public keys (base64 of the raw 32 bytes) of the issuers of the "
                               "shipped models, one per line\n" + "".join(k + "\n" for k in keys))
    print(f"{folder / FILE}: {len(keys)} issuer key(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
