"""Step 5: the certificate — built from the run, signed, written as JSON (the certificate) and HTML
(its printable rendering, with a PDF where a converter exists).

The JSON twin is what the device checks and keeps, what the MQTT link publishes retained on
``<p>/<unit>/calibration`` and what the bureau stores: every figure with its limit and verdict is
in it. It is signed with the technician's (issuer's) Ed25519 key the same way as records and
manifests (`firmware.signing`), and validated with the device's own model before it is written,
so the tool never hands out a certificate the device would refuse as malformed.

PDF: headless Chromium (``chromium --headless --print-to-pdf``) when it is installed, else
LibreOffice (``soffice --headless --convert-to pdf``); without either the HTML is printable from
any browser and the run says so.
"""
from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2

from firmware import __version__
from firmware.calibration.certificate import validate_certificate
from firmware.contracts import CERTIFICATE_SCHEMA
from firmware.record import utc_now_rfc3339
from firmware.signing import json_safe, public_key_b64, sign_document

from .run import Run

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
TOOL = f"nir-host calibrate-unit {__version__}"


def calibration_id(unit: str, when: datetime) -> str:
    return f"cal-{unit}-{when:%Y%m%d}-{secrets.token_hex(3)}"


def build(run: Run, *, unit: str, serial: str | None, technician: str, key, interval_days: int,
          firmware: str | None, now: datetime | None = None) -> dict[str, Any]:
    """The signed certificate document for ``run``."""
    now = now or datetime.now(timezone.utc)
    checks = [c.to_json() for c in run.checks]
    failed = [c["id"] for c in checks if c["passed"] is False]
    fig = run.figures
    ref_set = {k: fig[k] for k in ("reference_set_as_found", "reference_set_corrected", "reference_set_after")
               if k in fig}
    environment = {"warm_up": fig.get("warm_up"), "white_reference": fig.get("white_reference"),
                   "dark_reference": fig.get("dark_reference")}
    doc = {
        "schema": CERTIFICATE_SCHEMA,
        "calibration_id": calibration_id(unit, now),
        "unit": unit,
        "head": run.head,
        "serial": serial,
        "issued": utc_now_rfc3339(now),
        "due": (now.date() + timedelta(days=interval_days)).isoformat(),
        "technician": technician,
        "issuer_public_key": public_key_b64(key),
        "passed": not failed,
        "failed_checks": failed,
        "checks": checks,
        "standards": list(run.standards.values()),
        "corrections": run.corrections,
        "model": fig.get("model"),
        "transfer": {k: v for k, v in (fig.get("transfer") or {}).items() if k != "package_dir"},
        "reference_set": ref_set,
        "environment": {k: v for k, v in environment.items() if v is not None},
        "firmware": firmware,
        "tool": TOOL,
    }
    doc = sign_document(json_safe(doc), key)
    validate_certificate(doc)  # what the device will check first
    return doc


def render_html(doc: dict[str, Any], *, pdf_note: str | None = None) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = lambda v, d=4: "—" if v is None else (f"{v:.{d}g}" if isinstance(v, float) else str(v))
    return env.get_template("certificate.html").render(cert=doc, pdf_note=pdf_note)


def to_pdf(html_path: Path, pdf_path: Path, *, timeout_s: float = 90.0) -> str | None:
    """Convert with headless Chromium or LibreOffice; returns None on success, else why not."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium:
        with tempfile.TemporaryDirectory(prefix="plastinir-pdf-") as profile:
            cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=timeout_s)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                return f"chromium could not print the PDF: {exc}"
        return None if pdf_path.exists() else "chromium ran but wrote no PDF"
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice:
        try:
            subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(pdf_path.parent),
                            str(html_path)], check=True, capture_output=True, timeout=timeout_s)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            return f"libreoffice could not convert the certificate: {exc}"
        made = pdf_path.parent / (html_path.stem + ".pdf")
        if made != pdf_path and made.exists():
            made.rename(pdf_path)
        return None if pdf_path.exists() else "libreoffice ran but wrote no PDF"
    return "no PDF converter found (chromium or libreoffice); print the HTML from a browser"


def write(doc: dict[str, Any], out_dir: Path, *, pdf: bool = True) -> dict[str, str | None]:
    """``certificate.json`` + ``certificate.html`` (+ ``certificate.pdf``) in ``out_dir``; their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path, pdf_path = (out_dir / f"certificate.{ext}" for ext in ("json", "html", "pdf"))
    json_path.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(doc), encoding="utf-8")
    note = to_pdf(html_path, pdf_path) if pdf else "PDF not requested (--pdf never)"
    if note:
        html_path.write_text(render_html(doc, pdf_note=note), encoding="utf-8")
    return {"json": str(json_path), "html": str(html_path), "pdf": None if note else str(pdf_path),
            "pdf_note": note}
