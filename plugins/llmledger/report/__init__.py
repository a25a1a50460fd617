"""The quarterly allocation review: ``llmledger report --quarter 2026Q3``.

:func:`build_report` reads the marts through a read-only connection and writes, into one
folder (default ``<home>/reports/<quarter>/``):

- ``allocation_review_<quarter>.html``: self-contained (inline CSS and SVG charts, no script,
  no network), opens from disk;
- ``allocation_review_<quarter>.xlsx``: one sheet per table shown;
- ``csv/NN_<table>.csv``: one CSV per table shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmledger.paths import Home
from llmledger.report.fmt import display
from llmledger.report.model import Section, Table
from llmledger.report.quarters import Quarter, QuarterError

__all__ = ["Quarter", "QuarterError", "Report", "build_report", "collect", "last_full_quarter"]


@dataclass
class Report:
    """What was written, and the figures it shows (raw values, for checks and tests)."""

    quarter: Quarter
    html: Path
    xlsx: Path
    csvs: list[Path]
    sections: list[Section]
    headline: dict[str, tuple[str, Any, str]] = field(default_factory=dict)

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def summary(self) -> str:
        unavailable = [s.title for s in self.sections if s.unavailable]
        text = (
            f"report {self.quarter}: {self.html}\n"
            f"extracts: {self.xlsx} and {len(self.csvs)} CSV file(s) in {self.csvs[0].parent}"
            if self.csvs
            else f"report {self.quarter}: {self.html}"
        )
        if unavailable:
            text += "\nsections not available yet (mart missing): " + ", ".join(unavailable)
        return text


def last_full_quarter(end_exclusive: datetime) -> Quarter:
    """The last quarter that ends on or before ``end_exclusive``."""
    quarter = Quarter.of(end_exclusive)
    return quarter if quarter.end <= end_exclusive else quarter.previous


def collect(home: Home, quarter: Quarter) -> tuple[list[Section], Any]:
    """Read every section of ``quarter`` from the warehouse (read-only)."""
    from llmledger.report.sections import SECTIONS, Headline, Warehouse
    from llmledger.warehouse import connect_readonly

    headline = Headline()
    con = connect_readonly(home)
    try:
        wh = Warehouse(con)
        sections: list[Section] = []
        for builder in SECTIONS:
            built = builder(wh, quarter, headline)
            sections.extend(built if isinstance(built, list) else [built])
    finally:
        con.close()
    return sections, headline


def build_report(
    home: Home,
    quarter: str | Quarter,
    out: Path | str | None = None,
    generated_at: datetime | None = None,
) -> Report:
    """Write the review of ``quarter`` (``2026Q3``) into ``out`` and return what was written.

    ``generated_at`` (naive UTC) replaces "now" in the report: closing a quarter stamps its
    frozen report with the close time, so the same books give the same bytes."""
    from llmledger.report.extracts import write_csvs, write_xlsx
    from llmledger.report.render import render_html

    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    folder = Path(out) if out is not None else home.reports / str(q)
    folder.mkdir(parents=True, exist_ok=True)
    sections, headline = collect(home, q)
    tables = [t for s in sections for t in s.tables]
    stamp = generated_at.strftime("%Y-%m-%d %H:%M UTC") if generated_at else None
    generated_at_text = stamp or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    html_path = folder / f"allocation_review_{q}.html"
    xlsx_path = folder / f"allocation_review_{q}.xlsx"
    csv_dir = folder / "csv"
    for stale in csv_dir.glob("*.csv") if csv_dir.exists() else []:
        stale.unlink()  # a table that is no longer shown must not linger as an extract
    csvs = write_csvs(tables, csv_dir)
    write_xlsx(
        tables,
        xlsx_path,
        [
            ("Quarterly allocation review", str(q)),
            ("Warehouse", str(home.warehouse)),
            ("Generated", generated_at_text),
            ("Amounts", "USD; negative amounts in parentheses"),
            *(
                (f"Not available: {s.title}", s.unavailable or "")
                for s in sections
                if s.unavailable
            ),
        ],
    )
    html = render_html(
        str(q),
        sections,
        [
            (key, label, display(value, kind))
            for key, (label, value, kind) in headline.values.items()
        ],
        str(home.warehouse),
        generated_at_text,
        f"{xlsx_path.name} (one sheet per table) and csv/ (one file per table)",
    )
    html_path.write_text(html, encoding="utf-8")
    return Report(q, html_path, xlsx_path, csvs, sections, dict(headline.values))
