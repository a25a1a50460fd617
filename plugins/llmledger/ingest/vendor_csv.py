"""Annotation-vendor invoice CSV -> ``raw_schema.ANNOTATION_INVOICE`` rows.

Columns (docs/CONTRACTS.md): invoice_id, invoice_date, line_id, project_code, description,
unit_type, quantity, unit_price, platform_fee, credit, line_total, currency,
service_period_start, service_period_end, and optionally vendor (else the folder
``landing/invoices/<vendor>/``). ``amount = quantity*unit_price + platform_fee - credit``.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import Any

from llmledger.ingest.common import (
    MONEY_CONTEXT,
    FileRejected,
    Parsed,
    Record,
    Rejected,
    RowError,
    clean,
    csv_records,
    fit_fields,
    parse_date,
    parse_decimal,
    physical_lines,
    require,
    to_scale,
)

PARSER = "vendor_csv"
REQUIRED_COLUMNS = ("invoice_id", "line_id", "quantity", "unit_price")
TEXT = ("vendor", "invoice_id", "line_id", "project_code", "description", "unit_type", "currency")
DATES = ("invoice_date", "service_period_start", "service_period_end")
MONEY = ("quantity", "unit_price", "platform_fee", "credit", "line_total")
# "To the cent": half a cent either way is the rounding a vendor's own system may have done.
CENT_TOLERANCE = Decimal("0.005")


def _name(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def recognises(header: list[str]) -> bool:
    """Whether a CSV header has the columns an invoice file needs."""
    names = {_name(h) for h in header}
    return all(column in names for column in REQUIRED_COLUMNS)


def vendor_hint(text: str) -> str | None:
    """The one vendor a file's ``vendor`` column names, if it has such a column and one value."""
    records = csv_records(physical_lines(text))
    header = next(records, None)
    if header is None or "vendor" not in (names := [_name(h) for h in header[2]]):
        return None
    position = names.index("vendor")
    vendors = {clean(f[position]) for _, _, f in records if len(f) > position} - {None}
    return vendors.pop() if len(vendors) == 1 else None


def parse(text: str, folder_vendor: str | None) -> Parsed:
    """Parse an invoice CSV; ``folder_vendor`` is used where a row names no vendor."""
    records = csv_records(physical_lines(text))
    header = next(records, None)
    if header is None:
        raise FileRejected("empty_file", "the file has no header line")
    names = [_name(h) for h in header[2]]
    if not recognises(header[2]):
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        raise FileRejected(
            "unrecognised_header",
            f"line {header[0]} is not an invoice header: missing column(s) {', '.join(missing)}",
        )
    positions = {name: i for i, name in reversed(list(enumerate(names)))}
    parsed = Parsed(PARSER)
    for line, raw, fields in records:
        parsed.rows_read += 1
        try:
            fields = fit_fields(fields, len(names))
            parsed.records.append(Record(line, raw, _row(fields, positions, folder_vendor)))
        except RowError as err:
            parsed.rejected.append(Rejected.from_error(line, raw, err))
    return parsed


def _row(fields: list[str], positions: dict[str, int], folder_vendor: str | None) -> dict[str, Any]:
    def raw(column: str) -> str | None:
        return fields[positions[column]] if column in positions else None

    values: dict[str, Any] = {}
    for column in TEXT:
        values[column] = clean(raw(column))
    for column in DATES:
        values[column] = parse_date(raw(column), column)
    numbers = {column: parse_decimal(raw(column), column) for column in MONEY}

    values["vendor"] = values["vendor"] or folder_vendor
    require(
        values["vendor"],
        "vendor",
        raw("vendor"),
        "a vendor column or a landing/invoices/<vendor>/ folder",
    )
    for column in ("invoice_id", "line_id"):
        require(values[column], column, raw(column), "a value")
    for column in ("quantity", "unit_price"):
        require(numbers[column], column, raw(column), "a decimal number")

    fee = numbers["platform_fee"] or Decimal(0)
    credit = numbers["credit"] or Decimal(0)
    with localcontext(MONEY_CONTEXT):
        amount = to_scale(numbers["quantity"] * numbers["unit_price"] + fee - credit)
    stated = numbers["line_total"]
    if stated is not None and abs(amount - stated) > CENT_TOLERANCE:
        raise RowError(
            "amount_mismatch",
            "line_total",
            raw("line_total"),
            f"{amount.normalize():f} (quantity*unit_price + platform_fee - credit)",
            f"line_total {stated.normalize():f} differs from quantity*unit_price + platform_fee "
            f"- credit = {amount.normalize():f} by {abs(amount - stated).normalize():f}",
        )
    values.update(
        quantity=numbers["quantity"],
        unit_price=numbers["unit_price"],
        platform_fee=numbers["platform_fee"],
        credit=numbers["credit"],
        amount=amount,
    )
    return values
