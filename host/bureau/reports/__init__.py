"""Bureau reports (``nir-host report NAME``), each a function ``(db, **options) -> Report``."""
from __future__ import annotations

from .health import units_report
from .lab import lab_report
from .nonconformities import nonconformities_report
from .results import results_report
from .tables import FORMATS, Report, Table, render

REPORTS = {
    "results": results_report,
    "nonconformities": nonconformities_report,
    "units": units_report,
    "lab": lab_report,
}

__all__ = ["REPORTS", "FORMATS", "Report", "Table", "render", "results_report", "nonconformities_report",
           "units_report", "lab_report"]
