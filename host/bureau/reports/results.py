"""``report results``: how many results, of which verdicts, by merchant, location and day."""
from __future__ import annotations

from collections import defaultdict

from firmware.contracts import AMBIGUOUS, IDENTIFIED, REJECTED, UNKNOWN, is_degradable
from firmware.record import utc_now_rfc3339

from ..database import Database
from .common import DAY_SQL, day_filter, nonconformity
from .tables import Report, Table

COLUMNS = ["day", "merchant", "location", "results", "identified", "unknown", "ambiguous", "rejected",
           "degradable", "conventional", "nonconformities", "units"]


def results_report(db: Database, *, since: str | None = None, until: str | None = None) -> Report:
    """One row per (day, merchant, location); ``degradable``/``conventional`` count identified
    results by the contract's table; ``nonconformities`` as in `common.nonconformity`."""
    where, params = day_filter(since, until)
    rows = db.query(
        f"SELECT {DAY_SQL} AS day, COALESCE(merchant, ''), COALESCE(location, ''), verdict, class, "
        f"claimed_material, unit, COUNT(*) FROM results{where} "
        f"GROUP BY {DAY_SQL}, COALESCE(merchant, ''), COALESCE(location, ''), verdict, class, claimed_material, unit",
        params)
    groups: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    units: dict[tuple, set] = defaultdict(set)
    for day, merchant, location, verdict, label, claimed, unit, n in rows:
        g = groups[(day, merchant, location)]
        n = int(n)
        g["results"] += n
        g[verdict] += n
        if verdict == IDENTIFIED:
            g["degradable" if is_degradable(label) else "conventional"] += n
        if nonconformity(claimed, verdict, label):
            g["nonconformities"] += n
        units[(day, merchant, location)].add(unit)
    table_rows = []
    for key in sorted(groups):
        g = groups[key]
        day, merchant, location = key
        table_rows.append([day, merchant or "(none)", location or "(none)", g["results"], g[IDENTIFIED],
                           g[UNKNOWN], g[AMBIGUOUS], g[REJECTED], g["degradable"], g["conventional"],
                           g["nonconformities"], len(units[key])])
    total = [sum(r[i] for r in table_rows) for i in range(3, len(COLUMNS) - 1)]
    note = ("Day: the unit's clock when synchronised, else the bureau's arrival time. "
            "Degradable/conventional: identified results by the contract's degradable table.")
    tables = [Table("Results by day, merchant and location", COLUMNS, table_rows, note)]
    tables.append(Table("Totals", COLUMNS[3:-1], [total] if table_rows else []))
    return Report("results", "PlastiNIR results by merchant, location and day", utc_now_rfc3339(), tables,
                  {"since": since, "until": until})
