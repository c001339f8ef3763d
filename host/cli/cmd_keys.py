"""``nir-host keys new [--out FILE]``: create a model issuer's Ed25519 key."""
from __future__ import annotations

import os
from pathlib import Path

from firmware.signing import generate_key, public_key_b64, save_private_key

HELP = "create a model issuer key (private PEM, mode 0600) and print its public key"
DEFAULT_OUT = Path("~/.config/plastinir/issuer.pem")


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = sub.add_parser("new", help=HELP)
    new.add_argument("--out", type=Path, default=None,
                     help=f"key file to create (default: $PLASTINIR_ISSUER_KEY or {DEFAULT_OUT}); never overwritten")


def run(args) -> int:
    out = args.out or Path(os.environ.get("PLASTINIR_ISSUER_KEY") or DEFAULT_OUT).expanduser()
    key = generate_key()
    save_private_key(key, out)
    print(f"issuer key written to {out} (keep it private; never commit it)")
    print(f"public key (add to trusted_issuers / models/TRUSTED_ISSUERS): {public_key_b64(key)}")
    return 0
