"""``report nonconformities``: products claimed degradable that are conventional or unknown."""
from __future__ import annotations

from firmware.contracts import IDENTIFIED, UNKNOWN
from firmware.record import utc_now_rfc3339

from ..database import Database
from .common import DAY_SQL, day_filter, nonconformity
from .tables import Report, Table

COLUMNS = ["time", "unit", "seq", "sample_id", "merchant", "location", "product", "batch", "claimed_material",
           "verdict", "class", "confidence", "reason", "finding", "operator", "model"]


def nonconformities_report(db: Database, *, since: str | None = None, until: str | None = None) -> Report:
    """Every result whose ``sample.claimed_material`` is in the degradable table but which was
    identified as a conventional polymer, or was ``unknown`` (outside every class). Results that
    were rejected (sample quality) or ambiguous prove nothing either way and are not listed."""
    where, params = day_filter(since, until)
    where += (" AND " if where else " WHERE ") + "claimed_material IS NOT NULL AND verdict IN (?, ?)"
    params += [IDENTIFIED, UNKNOWN]
    rows = db.query(
        "SELECT time, unit, seq, sample_id, merchant, location, product, batch, claimed_material, verdict, class, "
        f"confidence, reason, operator, model_name, model_version, {DAY_SQL} FROM results{where} "
        "ORDER BY time, unit, seq", params)
    out = []
    for (time, unit, seq, sample_id, merchant, location, product, batch, claimed, verdict, label, confidence,
         reason, operator, model_name, model_version, _day) in rows:
        finding = nonconformity(claimed, verdict, label)
        if finding:
            out.append([time, unit, int(seq), sample_id, merchant, location, product, batch, claimed, verdict,
                        label, confidence, reason, finding, operator, f"{model_name} {model_version}"])
    return Report("nonconformities", "PlastiNIR nonconformities: claimed degradable, found otherwise",
                  utc_now_rfc3339(), [Table("Nonconformities", COLUMNS, out,
                                            "Claimed material in the degradable table (PLA, PBAT, PBS, PHA, PCL, "
                                            "PPC, STARCH); identified as a conventional polymer, or unknown.")],
                  {"since": since, "until": until})
