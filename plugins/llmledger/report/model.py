"""What a report is made of: sections holding tables and the charts drawn from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Column:
    """A table column: ``key`` names it in extracts, ``label`` heads it in the HTML,
    ``kind`` (see :mod:`llmledger.report.fmt`) says how values are shown."""

    key: str
    label: str
    kind: str = "text"


@dataclass
class Table:
    """A table the report shows; every one is also written to CSV and XLSX.

    ``total`` is a final row rendered as a footer (and written last in extracts)."""

    id: str
    title: str
    columns: list[Column]
    rows: list[tuple[Any, ...]]
    total: tuple[Any, ...] | None = None
    note: str | None = None
    empty_text: str = "No rows for this quarter."

    def all_rows(self) -> list[tuple[Any, ...]]:
        return [*self.rows, *([self.total] if self.total is not None else [])]


@dataclass
class Chart:
    """An inline SVG chart and the id of the table it was drawn from."""

    id: str
    title: str
    svg: str
    table_id: str


@dataclass
class Section:
    """A section of the review. ``unavailable`` says, in words, why it shows nothing (a mart
    that this warehouse does not have yet) instead of failing the whole report."""

    id: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    unavailable: str | None = None
