"""The HTML of the review: one self-contained file (inline CSS and SVG, no script, no network).

Jinja2 autoescaping escapes every value; only the SVG charts (escaped as they are drawn, see
:mod:`llmledger.report.charts`) and the tables rendered here (escaped cell by cell) are
inserted as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

import jinja2

from llmledger.report import fmt as F
from llmledger.report.model import Section, Table

TEMPLATE = Path(__file__).with_name("report.html.j2")


def render_table(table: Table) -> str:
    """A table as HTML: numbers right-aligned, negatives marked, total row in the footer."""
    out = [f'<table id="table-{escape(table.id)}" data-table="{escape(table.id)}">']
    out.append(f"<caption>{escape(table.title)}</caption><thead><tr>")
    for col in table.columns:
        cls = ' class="num"' if col.kind in F.NUMERIC_KINDS else ""
        out.append(f'<th scope="col"{cls}>{escape(col.label)}</th>')
    out.append("</tr></thead>")

    def row_html(row: Sequence[object]) -> str:
        cells = []
        for col, value in zip(table.columns, row, strict=True):
            text = F.display(value, col.kind)
            classes = []
            if col.kind in F.NUMERIC_KINDS:
                classes.append("num")
                if text.startswith("("):
                    classes.append("neg")
            if col.key == "status" and value != "passed":
                classes.append("status-bad")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{escape(text)}</td>")
        return "<tr>" + "".join(cells) + "</tr>"

    out.append("<tbody>")
    if table.rows:
        out.extend(row_html(r) for r in table.rows)
    else:
        span = len(table.columns)
        out.append(f'<tr><td class="empty" colspan="{span}">{escape(table.empty_text)}</td></tr>')
    out.append("</tbody>")
    if table.total is not None and table.rows:
        out.append("<tfoot>" + row_html(table.total) + "</tfoot>")
    out.append("</table>")
    if table.note:
        out.append(f'<p class="note">{escape(table.note)}</p>')
    return "".join(out)


def render_html(
    quarter: str,
    sections: Sequence[Section],
    headline: Sequence[tuple[str, str, str]],
    warehouse: str,
    generated_at: str,
    extracts: str,
) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    tables_by_id = {t.id: t for s in sections for t in s.tables}
    return template.render(
        quarter=quarter,
        sections=sections,
        headline=headline,
        warehouse=warehouse,
        generated_at=generated_at,
        extracts=extracts,
        tables_by_id=tables_by_id,
        render_table=render_table,
    )
