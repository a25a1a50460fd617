"""Annotation-vendor invoice CSV -> ``raw_schema.ANNOTATION_INVOICE`` rows.

Columns (docs/CONTRACTS.md): invoice_id, invoice_date, line_id, project_code, description,
unit_type, quantity, unit_price, platform_fee, credit, line_total, currency,
service_period_start, service_period_end, and optionally vendor (else the folder
``landing/invoices/<vendor>/``). ``amount = quantity*unit_price + platform_fee - credit``.
"""

from __future__ import annotations

import re

from llmledger.ingest.common import Parsed, clean, csv_records, physical_lines

PARSER = "vendor_csv"
REQUIRED_COLUMNS = ("invoice_id", "line_id", "quantity", "unit_price")


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
    """Parse an invoice CSV; ``folder_vendor`` is used where a row names no vendor.

    The built-in layout is :data:`llmledger.vendor_mappings.DEFAULT_MAPPING` read by the
    mapping-driven parser every vendor uses.
    """
    from llmledger.ingest.invoices import parse_csv
    from llmledger.vendor_mappings import DEFAULT_MAPPING

    return parse_csv(text, DEFAULT_MAPPING, folder_vendor)
