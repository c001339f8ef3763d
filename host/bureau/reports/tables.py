"""A report is a title and a few tables; one renderer each for CSV, JSON and HTML.

Reports compute plain rows; rendering is kept apart so every report comes in all three formats
with the same content. CSV holds one table per section, each preceded by a ``# title`` line and
separated by a blank line (a single-table report is a plain CSV file after its title line);
JSON keeps the rows as objects keyed by column; HTML is one self-contained page (values escaped
by Jinja2's autoescape: sample metadata comes from the field).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

FORMATS = ("csv", "json", "html")
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


@dataclass
class Table:
    """Rows of one section; ``flag_column`` names a boolean column whose true rows are highlighted."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    flag_column: str | None = None

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def flagged(self, row: list[Any]) -> bool:
        return bool(self.flag_column and row[self.columns.index(self.flag_column)])


@dataclass
class Report:
    name: str
    title: str
    generated_at: str
    tables: list[Table]
    parameters: dict[str, Any] = field(default_factory=dict)

    def table(self, title_prefix: str) -> Table:
        """The first table whose title starts with ``title_prefix`` (for callers and tests)."""
        for t in self.tables:
            if t.title.startswith(title_prefix):
                return t
        raise KeyError(f"report {self.name} has no table {title_prefix!r}; it has {[t.title for t in self.tables]}")


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i, table in enumerate(report.tables):
        if i:
            out.write("\n")
        out.write(f"# {table.title}\n")
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
    return out.getvalue()


def render_json(report: Report) -> str:
    doc = {"report": report.name, "title": report.title, "generated_at": report.generated_at,
           "parameters": report.parameters,
           "tables": [{"title": t.title, "note": t.note, "columns": t.columns, "rows": t.records()}
                      for t in report.tables]}
    return json.dumps(doc, indent=2, default=str)


def render_html(report: Report) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)

    def show(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.3g}"
        return str(_cell(value))

    env.filters["show"] = show
    return env.get_template("bureau_report.html").render(report=report)


def render(report: Report, fmt: str) -> str:
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")
