"""Names both sides of PlastiNIR rely on (DESIGN.md, Contracts), defined once.

The device, the calibration toolchain and the bureau all import these, so a label, a verdict
or a topic is spelled in exactly one place. Versioned identifiers (`RESULT_SCHEMA`,
`MANIFEST_SCHEMA`, `MQTT_CONTRACT`) change here and nowhere else.
"""
from __future__ import annotations

# --- versions -------------------------------------------------------------------------------
RESULT_SCHEMA = "plastinir.result/1"
MANIFEST_SCHEMA = "plastinir.model/1"
CERTIFICATE_SCHEMA = "plastinir.calibration/1"
BIRTH_SCHEMA = "plastinir.birth/1"
ACK_SCHEMA = "plastinir.ack/1"
STATS_SCHEMA = "plastinir.stats/1"
EVENT_SCHEMA = "plastinir.event/1"
CMD_SCHEMA = "plastinir.cmd/1"
CMD_REPLY_SCHEMA = "plastinir.cmd-reply/1"
#: The MQTT payloads of these schemas are described in docs/MQTT.md.
MQTT_CONTRACT = "plastinir.mqtt/1"

# --- labels ---------------------------------------------------------------------------------
#: Polymer codes named in the contract. Spectra files may carry other labels (e.g. PA-CF,
#: STONEFILL, MDPE); those are valid labels of materials a model does not know.
LABELS: tuple[str, ...] = (
    "HDPE", "LDPE", "LLDPE", "PP", "PS", "PET", "PETG", "PVC", "ABS", "ASA", "PMMA", "PC",
    "PA6", "PA66", "POM", "TPU", "PLA", "PBAT", "PBS", "PHA", "PCL", "PPC", "STARCH",
)

#: The degradable table (DESIGN.md): every other label is conventional.
DEGRADABLE: frozenset[str] = frozenset({"PLA", "PBAT", "PBS", "PHA", "PCL", "PPC", "STARCH"})


def normalize_label(label: str | None) -> str:
    """Canonical spelling of a label: labels compare case-insensitively, so store them upper-case.

    Surrounding whitespace is dropped; an empty or missing label becomes ``""`` (unknown).
    """
    if label is None:
        return ""
    return str(label).strip().upper()


def is_degradable(label: str | None) -> bool:
    """Whether the contract's class table calls this polymer degradable."""
    return normalize_label(label) in DEGRADABLE


# --- verdicts -------------------------------------------------------------------------------
IDENTIFIED = "identified"
UNKNOWN = "unknown"
AMBIGUOUS = "ambiguous"
REJECTED = "rejected"
VERDICTS: tuple[str, ...] = (IDENTIFIED, UNKNOWN, AMBIGUOUS, REJECTED)

#: Sample-quality rejection codes and the sentence an inspector reads for each. A rejected
#: record's ``reason`` starts with the code, e.g. ``"dark: cannot identify black/dark samples by NIR"``.
REJECTION_REASONS: dict[str, str] = {
    "dark": "cannot identify black/dark samples by NIR",
    "saturated": "signal too strong even at the lowest gain; tilt the sample or check the port",
    "empty": "no sample on the port",
    "unstable": "scans disagree: the sample moved during the measurement",
    "reference": "white reference needed",
    "calibration": "calibration certificate failing or past due",
    "fault": "hardware fault during the measurement",
}


def rejection_reason(code: str, detail: str | None = None) -> str:
    """Compose the ``reason`` of a rejected verdict: ``"<code>: <sentence>[ (<detail>)]"``."""
    if code not in REJECTION_REASONS:
        raise ValueError(f"unknown rejection code {code!r}; known: {sorted(REJECTION_REASONS)}")
    text = f"{code}: {REJECTION_REASONS[code]}"
    return f"{text} ({detail})" if detail else text


# --- MQTT topics ----------------------------------------------------------------------------
DEFAULT_PREFIX = "plastinir"
EVENT_KINDS: tuple[str, ...] = ("fault", "quality", "link", "clock", "reference", "model", "calibration",
                                "maintenance")
COMMANDS: tuple[str, ...] = ("measure", "reference", "model", "calibration", "reload", "tag")


def topic(prefix: str, unit: str, leaf: str) -> str:
    """``<prefix>/<unit>/<leaf>``; ``leaf`` is e.g. ``result``, ``event/fault``, ``cmd/measure``."""
    if not prefix or any(c in prefix for c in "+#\0") or prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError(f"MQTT prefix {prefix!r} must be non-empty, without '+', '#' or a leading/trailing '/'")
    if not unit or any(c in unit for c in "+#/\0"):
        raise ValueError(f"MQTT unit {unit!r} must be non-empty and contain no '+', '#' or '/'")
    return f"{prefix}/{unit}/{leaf}"
