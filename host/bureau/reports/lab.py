"""``report lab``: do the units agree with the laboratory on the same samples?

Results and lab results meet on ``sample.sample_id``. A result is compared when the lab gave
that sample one label (samples the lab itself labelled differently by two methods are listed
apart, not scored). A rejected result (sample quality) is no identification and is counted, not
compared; ``unknown`` and ``ambiguous`` results are compared as the pseudo-labels
``(unknown)``/``(ambiguous)`` and so count as disagreements. Agreement comes with its 95 %
Wilson score interval (Wilson 1927, JASA 22:209), which stays meaningful for the few samples a
unit may have; a unit or model below ``min_agreement`` is flagged.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict

from firmware.contracts import IDENTIFIED, REJECTED, normalize_label
from firmware.record import utc_now_rfc3339

from ..database import Database
from .tables import Report, Table

AGREEMENT_COLUMNS = ["compared", "agree", "agreement", "ci95_low", "ci95_high", "rejected", "flag"]


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n; (0, 1) for n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _device_label(verdict: str, label: str | None) -> str:
    return normalize_label(label) if verdict == IDENTIFIED else f"({verdict})"


def _agreement_rows(groups: dict, rejected: Counter, min_agreement: float, key_cols: int) -> list[list]:
    rows = []
    for key in sorted(set(groups) | set(rejected)):
        pairs = groups.get(key, [])
        n = len(pairs)
        k = sum(1 for lab, dev in pairs if lab == dev)
        lo, hi = wilson_interval(k, n)
        rate = k / n if n else None
        flag = (f"disagrees with the lab ({k}/{n})" if rate is not None and rate < min_agreement else "")
        rows.append([*(key if key_cols > 1 else (key,)), n, k, rate, lo, hi, rejected.get(key, 0), flag])
    return rows


def _matrix(title: str, pairs: list[tuple[str, str]]) -> Table:
    counts = Counter(pairs)
    lab_labels = sorted({lab for lab, _ in pairs})
    device_labels = sorted({dev for _, dev in pairs} - set(lab_labels), key=lambda s: (s.startswith("("), s))
    cols = lab_labels + device_labels
    rows = [[lab, *(counts.get((lab, dev), 0) for dev in cols), len([1 for l, _ in pairs if l == lab])]
            for lab in lab_labels]
    return Table(title, ["lab \\ unit", *cols, "total"], rows, "Rows: the lab's label; columns: the unit's answer.")


def lab_report(db: Database, *, min_agreement: float = 0.9) -> Report:
    lab: dict[str, set[str]] = defaultdict(set)
    methods: dict[str, set[str]] = defaultdict(set)
    for sample_id, label, method in db.query("SELECT sample_id, lab_label, lab_method FROM lab_results"):
        lab[sample_id].add(label)
        methods[sample_id].add(method)
    rows = db.query(
        "SELECT r.unit, r.seq, r.time, r.sample_id, r.verdict, r.class, r.model_name, r.model_version FROM results r "
        "WHERE r.sample_id IN (SELECT sample_id FROM lab_results) ORDER BY r.unit, r.seq")
    by_unit: dict = defaultdict(list)
    by_model: dict = defaultdict(list)
    rejected_unit: Counter = Counter()
    rejected_model: Counter = Counter()
    everything: list[tuple[str, str]] = []
    disagreements, inconsistent = [], []
    for unit, seq, time, sample_id, verdict, label, model_name, model_version in rows:
        model = (model_name, model_version)
        refs = lab[sample_id]
        if len(refs) > 1:
            inconsistent.append([sample_id, ", ".join(sorted(refs)), ", ".join(sorted(methods[sample_id])),
                                 unit, int(seq)])
            continue
        ref = next(iter(refs))
        if verdict == REJECTED:
            rejected_unit[unit] += 1
            rejected_model[model] += 1
            continue
        dev = _device_label(verdict, label)
        by_unit[unit].append((ref, dev))
        by_model[model].append((ref, dev))
        everything.append((ref, dev))
        if dev != ref:
            disagreements.append([unit, int(seq), time, sample_id, ref, ", ".join(sorted(methods[sample_id])), dev,
                                  f"{model_name} {model_version}"])
    tables = [
        Table("Agreement by unit", ["unit", *AGREEMENT_COLUMNS],
              _agreement_rows(by_unit, rejected_unit, min_agreement, 1),
              f"Flagged below {min_agreement:.0%} agreement. ci95: Wilson score interval.", flag_column="flag"),
        Table("Agreement by model", ["model", "version", *AGREEMENT_COLUMNS],
              _agreement_rows(by_model, rejected_model, min_agreement, 2), flag_column="flag"),
        _matrix("Confusion matrix: all units", everything),
    ]
    for (name, version), pairs in sorted(by_model.items()):
        tables.append(_matrix(f"Confusion matrix: model {name} {version}", pairs))
    for unit, pairs in sorted(by_unit.items()):
        tables.append(_matrix(f"Confusion matrix: unit {unit}", pairs))
    tables.append(Table("Disagreements", ["unit", "seq", "time", "sample_id", "lab_label", "lab_method", "unit_label",
                                          "model"], disagreements))
    if inconsistent:
        tables.append(Table("Samples the lab labelled inconsistently (not scored)",
                            ["sample_id", "lab_labels", "lab_methods", "unit", "seq"], inconsistent))
    return Report("lab", "PlastiNIR units against laboratory results", utc_now_rfc3339(), tables,
                  {"min_agreement": min_agreement, "lab_samples": len(lab)})
