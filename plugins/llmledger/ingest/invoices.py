"""Annotation-vendor invoices, any vendor: one CSV parser and one JSON parser, both driven by a
:class:`~llmledger.vendor_mappings.VendorMapping`, then whole-invoice checks.

Line amount (in the invoice currency)::

    base     = quantity x unit_price
    fee      = platform_fee, else base x platform_fee_rate / 100 (rounded to the cent)
    discount = discount, else base x discount_rate / 100 (rounded to the cent)
    tax      = tax, else (base + fee - discount) x tax_rate / 100 (rounded to the cent)
    amount   = base + fee - discount + tax - credit, else the stated line_total

A stated ``line_total`` must agree with the computed amount to half a cent. Lines of kind
``discount`` or ``credit``, and every line of a credit note, reduce cost: their amount is
stored negative, their quantity as the positive count it concerns (dbt signs it).

Whole-invoice checks (:func:`check_invoices`), each quarantining every line of the invoice
with a reason: the lines must sum to each stated total per currency to the cent
(``invoice_total_mismatch``); the lines must agree on revision and document type
(``inconsistent_invoice``); a credit note must name the invoice it corrects
(``credit_note_without_reference``). These depend on the file alone. Checks that depend on
other files (a duplicate invoice id, a revision superseding an earlier one, a credit note
whose invoice is unknown) are decided in the warehouse over every delivery
(``int_annotation_invoice_versions``), so the outcome never depends on the order in which
parallel ingest tasks load the files.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
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
from llmledger.vendor_mappings import (
    DEFAULT_MAPPING,
    DOCUMENT_TYPES,
    LINE_KINDS,
    UNIT_TYPES,
    VendorMapping,
)

# "To the cent": half a cent either way is the rounding a vendor's own system may have done.
CENT_TOLERANCE = Decimal("0.005")
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_REDUCING_KINDS = ("discount", "credit")


@dataclass
class InvoiceParsed(Parsed):
    """:class:`Parsed` plus what the whole-invoice checks need.

    ``invoice_of`` names the invoice of rejected lines whose invoice id could be read;
    ``total_rows`` are lines that state an invoice total and are not lines themselves.
    """

    invoice_of: dict[int, tuple[str, str]] = field(default_factory=dict)
    total_rows: list[Record] = field(default_factory=list)


def header_name(header: str) -> str:
    """A header or mapped column name compared loosely: case, spaces and hyphens ignored."""
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def parse(text: str, mapping: VendorMapping, folder_vendor: str | None) -> InvoiceParsed:
    """Parse an invoice file of the mapping's format; ``folder_vendor`` fills a missing vendor."""
    if mapping.format == "json":
        return parse_json(text, mapping, folder_vendor)
    return parse_csv(text, mapping, folder_vendor)


def parse_csv(text: str, mapping: VendorMapping, folder_vendor: str | None) -> InvoiceParsed:
    """One record per CSV row; the mapping's ``fields`` name the header columns."""
    records = csv_records(physical_lines(text), mapping.delimiter)
    header = next(records, None)
    if header is None:
        raise FileRejected("empty_file", "the file has no header line")
    names = [header_name(h) for h in header[2]]
    positions = {name: i for i, name in reversed(list(enumerate(names)))}
    if mapping is DEFAULT_MAPPING:
        required = ("invoice_id", "line_id", "quantity", "unit_price")
        missing = [c for c in required if c not in positions]
        where = "an invoice header"
    else:
        required = tuple(mapping.fields.values())
        missing = [c for c in required if header_name(c) not in positions]
        where = f"the header {mapping.source} describes"
    if missing:
        raise FileRejected(
            "unrecognised_header",
            f"line {header[0]} is not {where}: missing column(s) {', '.join(missing)}",
        )
    # Where each mapped field is in this header, worked out once per file, not once per value.
    where = {
        target: positions[header_name(column)]
        for target, column in mapping.fields.items()
        if header_name(column) in positions
    }
    parsed = InvoiceParsed(mapping.parser)
    for line, raw, fields in records:
        parsed.rows_read += 1

        def get(target: str, fields: list[str] = fields) -> Any:
            position = where.get(target)
            if position is None:
                return mapping.constants.get(target)
            return fields[position] if position < len(fields) else None

        _add(parsed, mapping, folder_vendor, line, raw, get, width=(fields, len(names)))
    return parsed


def parse_json(text: str, mapping: VendorMapping, folder_vendor: str | None) -> InvoiceParsed:
    """One record per line object; ``_source_row`` is the line's 1-based ordinal in the file."""
    try:
        # Decimal, never float: 0.1 must stay 0.1 from the file to the mart.
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise FileRejected("malformed_json", f"line {exc.lineno}: {exc.msg}") from None
    found = _path(document, mapping.invoices) if mapping.invoices else document
    invoices = found if isinstance(found, list) else [found]
    parsed = InvoiceParsed(mapping.parser)
    ordinal = 0
    for number, invoice in enumerate(invoices, start=1):
        lines = _path(invoice, mapping.lines) if isinstance(invoice, dict) else None
        if not isinstance(lines, list):
            raise FileRejected(
                "unrecognised_layout",
                f"invoice {number}: no list of lines at {mapping.lines!r} "
                f"(as {mapping.source} says)",
            )
        for item in lines:
            ordinal += 1
            parsed.rows_read += 1
            raw = json.dumps(item, default=str, ensure_ascii=False)

            def get(target: str, item: Any = item, invoice: dict = invoice) -> Any:
                if target in mapping.fields and isinstance(item, dict):
                    value = _path(item, mapping.fields[target])
                    if value is not None:
                        return value
                if target in mapping.invoice_fields:
                    value = _path(invoice, mapping.invoice_fields[target])
                    if value is not None:
                        return value
                return mapping.constants.get(target)

            _add(parsed, mapping, folder_vendor, ordinal, raw, get)
    return parsed


def _path(node: Any, path: str | None) -> Any:
    """The value at a dotted path (``a.b.0.c``), or None where it does not exist."""
    if not path:
        return node
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _add(
    parsed: InvoiceParsed,
    mapping: VendorMapping,
    folder_vendor: str | None,
    line: int,
    raw: str,
    get: Any,
    width: tuple[list[str], int] | None = None,
) -> None:
    vendor = _text(get("vendor")) or folder_vendor
    invoice_id = _text(get("invoice_id"))
    try:
        if width is not None:
            fit_fields(*width)
        values = _row(mapping, get, vendor, line)
    except RowError as err:
        parsed.rejected.append(Rejected.from_error(line, raw, err))
        if vendor and invoice_id:
            parsed.invoice_of[line] = (vendor.lower(), invoice_id)
        return
    record = Record(line, raw, values)
    if values["line_kind"] == "total":
        parsed.total_rows.append(record)
    else:
        parsed.records.append(record)


def _text(value: Any) -> str | None:
    return clean(None if value is None else str(value))


def _decimal(mapping: VendorMapping, value: Any, column: str) -> Decimal | None:
    if isinstance(value, bool):
        raise RowError("bad_number", column, str(value), "a decimal number")
    if isinstance(value, int | Decimal):
        return to_scale(Decimal(value))
    text = _text(value)
    if text is None:
        return None
    if mapping.thousands_separator:
        text = text.replace(mapping.thousands_separator, "")
    if mapping.decimal_separator == ",":
        if "." in text and mapping.thousands_separator != ".":
            raise RowError("bad_number", column, str(value), "a decimal number such as 1234,56")
        text = text.replace(",", ".")
    return parse_decimal(text, column)


def _date(mapping: VendorMapping, value: Any, column: str) -> date | None:
    text = _text(value)
    if text is None or mapping.date_format is None:
        return parse_date(text, column)
    try:
        return datetime.strptime(text, mapping.date_format).date()
    except ValueError:
        raise RowError("bad_date", column, text, f"a date as {mapping.date_format}") from None


def _word(
    mapping: VendorMapping, words: dict[str, str] | None, value: Any, column: str, allowed: tuple
) -> str | None:
    text = _text(value)
    if text is None:
        return None
    key = text.lower()
    if words and key in words:
        return words[key]
    if key in allowed:
        return key
    raise RowError(
        f"bad_{column}",
        column,
        text,
        "one of " + ", ".join(allowed) + f" (or a word mapped to one in {mapping.source})",
    )


def _cents(value: Decimal) -> Decimal:
    return to_scale(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _row(mapping: VendorMapping, get: Any, vendor: str | None, line: int) -> dict[str, Any]:
    legacy = mapping is DEFAULT_MAPPING
    values: dict[str, Any] = {
        column: _text(get(column))
        for column in ("invoice_id", "line_id", "project_code", "description", "references_invoice")
    }
    values["vendor"] = vendor
    require(vendor, "vendor", None, "a vendor column or a landing/invoices/<vendor>/ folder")
    require(values["invoice_id"], "invoice_id", None, "a value")
    if legacy:
        require(values["line_id"], "line_id", None, "a value")
    values["line_id"] = values["line_id"] or str(line)
    for column in ("invoice_date", "service_period_start", "service_period_end"):
        values[column] = _date(mapping, get(column), column)

    kind = _word(mapping, mapping.line_kinds, get("line_kind"), "line_kind", LINE_KINDS) or "work"
    document = (
        _word(
            mapping, mapping.document_types, get("document_type"), "document_type", DOCUMENT_TYPES
        )
        or "invoice"
    )
    if legacy:
        unit_type = _text(get("unit_type"))
    else:
        unit_type = _word(mapping, mapping.unit_types, get("unit_type"), "unit_type", UNIT_TYPES)
    currency = (_text(get("currency")) or mapping.currency or "").upper() or None
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        raise RowError("bad_currency", "currency", currency, "a three-letter ISO 4217 code")
    revision_text = _text(get("revision"))
    try:
        revision = None if revision_text is None else int(revision_text)
    except ValueError:
        raise RowError("bad_number", "revision", revision_text, "an integer revision") from None

    n = {
        column: _decimal(mapping, get(column), column)
        for column in (
            "quantity",
            "unit_price",
            "platform_fee",
            "platform_fee_rate",
            "tax",
            "tax_rate",
            "discount",
            "discount_rate",
            "credit",
            "line_total",
            "invoice_total",
        )
    }
    if legacy:
        require(n["quantity"], "quantity", None, "a decimal number")
        require(n["unit_price"], "unit_price", None, "a decimal number")
    elif kind == "work":
        require(unit_type, "unit_type", None, "the unit billed: " + ", ".join(UNIT_TYPES))
    quantity = n["quantity"]
    if mapping.negative_quantity_is_credit and quantity is not None and quantity < 0:
        quantity, kind = -quantity, ("credit" if kind == "work" else kind)
    if document == "credit_note" and n["invoice_total"] is not None:
        n["invoice_total"] = -abs(n["invoice_total"])
    if kind == "total":
        stated = n["line_total"] if n["line_total"] is not None else n["invoice_total"]
        if document == "credit_note":
            stated = None if stated is None else -abs(stated)
        require(stated, "line_total", None, "the invoice total a total line states")
        values.update(line_kind="total", currency=currency, invoice_total=stated)
        return values

    reduces = kind in _REDUCING_KINDS or document == "credit_note"
    with localcontext(MONEY_CONTEXT):
        base = quantity * n["unit_price"] if None not in (quantity, n["unit_price"]) else None
        fee, discount, tax = n["platform_fee"], n["discount"], n["tax"]
        if reduces:
            # A credit's fee and tax are reversed with it, whichever sign the vendor wrote
            # them in (-2 hours with VAT -18.00, or 2 hours credited with VAT 18.00).
            fee, tax = (None if v is None else abs(v) for v in (fee, tax))
        if fee is None and n["platform_fee_rate"] is not None and base is not None:
            fee = _cents(base * n["platform_fee_rate"] / _HUNDRED)
        if discount is None and n["discount_rate"] is not None and base is not None:
            discount = _cents(base * n["discount_rate"] / _HUNDRED)
        if tax is None and n["tax_rate"] is not None:
            taxable = (base or 0) + (fee or 0) - (discount or 0)
            tax = _cents(taxable * n["tax_rate"] / _HUNDRED)
        parts = [base, fee, None if discount is None else -discount, tax]
        parts.append(None if n["credit"] is None else -n["credit"])
        present = [p for p in parts if p is not None]
        computed = to_scale(sum(present, Decimal(0))) if present else None
    stated = n["line_total"]
    if reduces:
        computed = None if computed is None else -abs(computed)
        stated = None if stated is None else -abs(stated)
    if computed is None and stated is None:
        raise RowError(
            "missing_required",
            "line_total",
            None,
            "a line amount, or quantity and unit_price",
            "the line states neither an amount nor quantity and unit_price",
        )
    amount = computed if computed is not None else stated
    if computed is not None and stated is not None and abs(computed - stated) > CENT_TOLERANCE:
        formula = "quantity*unit_price + platform_fee - discount + tax - credit"
        raise RowError(
            "amount_mismatch",
            "line_total",
            _text(get("line_total")),
            f"{computed.normalize():f} ({formula})",
            f"line_total {stated.normalize():f} differs from {formula} = "
            f"{computed.normalize():f} by {abs(computed - stated).normalize():f}",
        )
    values.update(
        unit_type=unit_type,
        quantity=quantity,
        unit_price=n["unit_price"],
        platform_fee=fee,
        credit=n["credit"],
        amount=amount,
        currency=currency,
        line_kind=kind,
        tax=tax,
        discount=discount,
        invoice_total=n["invoice_total"],
        document_type=document,
        revision=revision,
    )
    return values


# ----------------------------------------------------------------------------- invoice checks


def check_invoices(parsed: InvoiceParsed) -> list[bool]:
    """Quarantine whole invoices that fail a check; returns the keep-mask of ``parsed.records``.

    Updates ``parsed`` in place: rejected lines are appended to ``parsed.rejected``; the total
    lines of invoices that are kept count as skipped (they are not cost lines by design).
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    for index, record in enumerate(parsed.records):
        groups[(record.values["vendor"].lower(), record.values["invoice_id"])].append(index)
    totals: dict[tuple, list[Record]] = defaultdict(list)
    for record in parsed.total_rows:
        totals[(record.values["vendor"].lower(), record.values["invoice_id"])].append(record)
    rejected_lines: dict[tuple, list[int]] = defaultdict(list)
    for line, key in parsed.invoice_of.items():
        rejected_lines[key].append(line)

    failed: dict[tuple, RowError] = {}
    for key in sorted(set(groups) | set(totals)):
        lines = [parsed.records[i] for i in groups.get(key, [])]
        problem = _invoice_problem(key, lines, totals.get(key, []), rejected_lines.get(key, []))
        problem = problem or _reference_problem(key, lines)
        if problem is not None:
            failed[key] = problem

    keep = []
    for record in parsed.records:
        key = (record.values["vendor"].lower(), record.values["invoice_id"])
        keep.append(key not in failed)
        if key in failed:
            parsed.rejected.append(Rejected.from_error(record.line, record.raw_text, failed[key]))
    for key, rows in totals.items():
        for record in rows:
            if key not in failed:
                # The stated total travels on the lines, so the warehouse can re-check it.
                for line in (parsed.records[i] for i in groups.get(key, [])):
                    if line.values["currency"] == record.values["currency"]:
                        line.values["invoice_total"] = record.values["invoice_total"]
            if key in failed:
                parsed.rejected.append(
                    Rejected.from_error(record.line, record.raw_text, failed[key])
                )
            else:
                parsed.rows_skipped += 1
    parsed.total_rows = []
    parsed.records = [r for r, kept in zip(parsed.records, keep, strict=True) if kept]
    parsed.rejected.sort(key=lambda r: r.line)
    return keep


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP):f}"


def _invoice_problem(
    key: tuple, lines: list[Record], total_rows: list[Record], rejected: list[int]
) -> RowError | None:
    vendor, invoice_id = key
    stated: dict[str, set[Decimal]] = defaultdict(set)
    for record in [*lines, *total_rows]:
        if record.values.get("invoice_total") is not None:
            stated[record.values["currency"] or "USD"].add(record.values["invoice_total"])
    for field_name in ("revision", "document_type"):
        seen = {r.values.get(field_name) for r in lines}
        if len(seen) > 1:
            return RowError(
                "inconsistent_invoice",
                field_name,
                ", ".join(sorted(map(str, seen))),
                "one value for the whole invoice",
                f"invoice {invoice_id} of {vendor}: its lines disagree on {field_name} "
                f"({', '.join(sorted(map(str, seen)))}); the whole invoice is quarantined",
            )
    if not stated:
        return None
    for currency, values in stated.items():
        if len(values) > 1:
            text = ", ".join(_money(v) for v in sorted(values))
            return RowError(
                "inconsistent_invoice",
                "invoice_total",
                text,
                "one stated total per currency",
                f"invoice {invoice_id} of {vendor} states several totals in {currency} ({text}); "
                "the whole invoice is quarantined",
            )
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for record in lines:
        sums[record.values["currency"] or "USD"] += record.values["amount"]
    for currency in sorted(set(sums) | set(stated)):
        total = next(iter(stated[currency]), None) if currency in stated else None
        computed = sums.get(currency, Decimal(0))
        if total is not None and abs(total - computed) <= CENT_TOLERANCE:
            continue
        said = "no total" if total is None else f"a total of {_money(total)} {currency}"
        note = (
            f"; line(s) {', '.join(map(str, sorted(rejected)))} of it were rejected"
            if rejected
            else ""
        )
        return RowError(
            "invoice_total_mismatch",
            "invoice_total",
            None if total is None else _money(total),
            f"{_money(computed)} {currency} (the sum of its lines)",
            f"invoice {invoice_id} of {vendor} states {said}, but its lines sum to "
            f"{_money(computed)} {currency}{note}; the whole invoice is quarantined",
        )
    return None


def _reference_problem(key: tuple, lines: list[Record]) -> RowError | None:
    vendor, invoice_id = key
    if not lines or lines[0].values.get("document_type") != "credit_note":
        return None
    if not {r.values["references_invoice"] for r in lines} - {None}:
        return RowError(
            "credit_note_without_reference",
            "references_invoice",
            None,
            "the id of the invoice the credit note corrects",
            f"credit note {invoice_id} of {vendor} names no invoice it corrects",
        )
    return None
