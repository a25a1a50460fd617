"""CSV and XLSX extracts of every table the review shows.

One CSV per table (``csv/NN_<table>.csv``, header = the column keys) and one workbook with a
sheet per table. Numbers are written as numbers, rounded as displayed; text that would start a
formula is neutralised (:func:`llmledger.report.fmt.neutralise`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from llmledger.report import fmt as F
from llmledger.report.model import Table

XLSX_FORMATS = {
    F.MONEY: "#,##0.00;(#,##0.00)",
    F.NUMBER: "#,##0.00;(#,##0.00)",
    F.INTEGER: "#,##0;(#,##0)",
    F.SHARE: "0.0%;(0.0%)",
    F.CHANGE: "+0.0%;(0.0%)",
}


def _cells(table: Table) -> list[list[object]]:
    return [
        [F.extract_value(v, c.kind) for c, v in zip(table.columns, row, strict=True)]
        for row in table.all_rows()
    ]


def write_csvs(tables: Sequence[Table], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, table in enumerate(tables, start=1):
        path = folder / f"{i:02d}_{table.id}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow([c.key for c in table.columns])
            writer.writerows(["" if v is None else v for v in row] for row in _cells(table))
        paths.append(path)
    return paths


def _sheet_name(index: int, table_id: str) -> str:
    return f"{index:02d} {table_id}"[:31]


def write_xlsx(tables: Sequence[Table], path: Path, about: Sequence[tuple[str, str]]) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    info = book.active
    info.title = "About"
    for key, value in about:
        info.append([F.neutralise(key), F.neutralise(value)])
    info.column_dimensions["A"].width = 28
    info.column_dimensions["B"].width = 80
    for i, table in enumerate(tables, start=1):
        sheet = book.create_sheet(_sheet_name(i, table.id))
        sheet.append([F.neutralise(table.title)])
        sheet["A1"].font = Font(bold=True)
        sheet.append([c.key for c in table.columns])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in _cells(table):
            sheet.append(row)
        for j, col in enumerate(table.columns, start=1):
            letter = sheet.cell(row=2, column=j).column_letter
            sheet.column_dimensions[letter].width = max(12, min(40, len(col.key) + 4))
            number_format = XLSX_FORMATS.get(col.kind)
            if number_format:
                for (cell,) in sheet.iter_rows(min_row=3, min_col=j, max_col=j):
                    cell.number_format = number_format
            elif col.kind == F.TEXT:
                # Belt and braces: text cells are strings, never formulas, whatever they hold.
                for (cell,) in sheet.iter_rows(min_row=3, min_col=j, max_col=j):
                    if cell.value is not None:
                        cell.data_type = "s"
        sheet.freeze_panes = "A3"
        if table.total is not None:
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
