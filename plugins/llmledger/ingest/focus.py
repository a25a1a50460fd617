"""FOCUS 1.0-1.4 billing CSV -> ``raw_schema.FOCUS`` rows.

Column names are matched without regard to case or spaces (the FOCUS samples carry
``SkuPriceid``). Columns a file does not carry are null; provider ``x_*`` columns are kept as
a JSON object in ``x_columns``; other columns outside the raw schema are left in the landing
file, which is never modified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from llmledger.ingest.common import (
    FileRejected,
    Parsed,
    Record,
    Rejected,
    RowError,
    clean,
    csv_records,
    fit_fields,
    parse_decimal,
    parse_timestamp,
    physical_lines,
    require,
)

PARSER = "focus_csv"

# Raw column -> FOCUS names, current first. Several versions renamed columns (ProviderName ->
# ServiceProviderName in 1.3, AmortizedCost/ChargeType/Usage* before 1.0, InvoiceIssuer before
# 1.0 GA); when a file carries more than one, the first non-null in this order wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "billing_account_id": ("BillingAccountId",),
    "billing_period_start": ("BillingPeriodStart",),
    "billing_period_end": ("BillingPeriodEnd",),
    "charge_period_start": ("ChargePeriodStart",),
    "charge_period_end": ("ChargePeriodEnd",),
    "provider": ("ServiceProviderName", "ProviderName", "Provider"),
    "publisher": ("PublisherName", "Publisher"),
    "invoice_issuer": ("InvoiceIssuerName", "InvoiceIssuer"),
    "invoice_id": ("InvoiceId",),
    "resource_id": ("ResourceId",),
    "resource_name": ("ResourceName",),
    "sku_id": ("SkuId",),
    "service_name": ("ServiceName",),
    "region": ("RegionId", "RegionName", "Region"),
    "charge_category": ("ChargeCategory", "ChargeType"),
    "charge_class": ("ChargeClass",),
    "charge_description": ("ChargeDescription",),
    "pricing_unit": ("PricingUnit",),
    "pricing_quantity": ("PricingQuantity",),
    "consumed_unit": ("ConsumedUnit", "UsageUnit"),
    "consumed_quantity": ("ConsumedQuantity", "UsageQuantity"),
    "billed_cost": ("BilledCost",),
    "effective_cost": ("EffectiveCost", "AmortizedCost"),
    "list_cost": ("ListCost",),
    "contracted_cost": ("ContractedCost",),
    "billing_currency": ("BillingCurrency",),
    "commitment_discount_id": ("CommitmentDiscountId",),
    "commitment_discount_category": ("CommitmentDiscountCategory",),
    "commitment_discount_status": ("CommitmentDiscountStatus",),
    "tags": ("Tags",),
}
REQUIRED = ("charge_period_start", "charge_period_end", "billed_cost")
TIMESTAMPS = (
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
)
NUMBERS = (
    "pricing_quantity",
    "consumed_quantity",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
)


def _key(name: str) -> str:
    return re.sub(r"\s+", "", name).lower()


_KEY = {_key(name): column for column, names in ALIASES.items() for name in names}


def recognises(header: list[str]) -> bool:
    """Whether a CSV header looks like FOCUS (it has a charge period start or a billed cost)."""
    return bool({_key(name) for name in header} & {"chargeperiodstart", "billedcost"})


def _tags(raw: str | None, name: str) -> str:
    text = clean(raw)
    if text is None:
        return "{}"
    try:
        tags = json.loads(text)
    except json.JSONDecodeError:
        tags = None
    if not isinstance(tags, dict):
        raise RowError("bad_tags", name, raw, 'a JSON object such as {"cluster": "gpu-a"}')
    return json.dumps(tags, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# How a file delivers corrections (docs/CONTRACTS.md "Billing corrections"). A provider x_
# column, so a FOCUS export stays valid FOCUS. Absent means rows add to what came before.
DELIVERY_STYLE_COLUMN = "x_DeliveryStyle"
DELIVERY_STYLES = frozenset({"replacement", "delta", "ledger"})
EXPORTED_AT_COLUMN = "x_ExportedAt"
# dbt reads these two by exact name, whatever case the file used.
_CANONICAL_X = {_key(name): name for name in (DELIVERY_STYLE_COLUMN, EXPORTED_AT_COLUMN)}


def _check_extras(extras: dict[str, str | None]) -> None:
    """Check (and normalise in place) the delivery-style columns the warehouse interprets."""
    for name, value in extras.items():
        if name == DELIVERY_STYLE_COLUMN and value is not None:
            if value.lower() not in DELIVERY_STYLES:
                raise RowError(
                    "bad_delivery_style", name, value, "one of replacement, delta, ledger"
                )
        elif name == EXPORTED_AT_COLUMN and value is not None:
            # Stored as naive UTC ISO text so the warehouse compares exports without parsing.
            moment = parse_timestamp(value, name)
            extras[name] = moment.isoformat(sep=" ") if moment else None


def _converter(column: str) -> Callable[[str | None, str], Any]:
    if column in TIMESTAMPS:
        return parse_timestamp
    if column in NUMBERS:
        return parse_decimal
    return lambda raw, _name: clean(raw)


def parse(text: str) -> Parsed:
    """Parse FOCUS CSV text (BOM already removed by :func:`common.decode`)."""
    records = csv_records(physical_lines(text))
    header = next(records, None)
    if header is None:
        raise FileRejected("empty_file", "the file has no header line")
    return parse_table(header[2], records, f"line {header[0]}")


class Layout:
    """Where each raw column comes from in a header of FOCUS (or FOCUS-mapped) column names."""

    def __init__(self, names: list[str], where: str = "the header") -> None:
        self.width = len(names)
        self.sources: dict[str, list[tuple[int, str]]] = {}
        self.x_columns: list[tuple[int, str]] = []
        for position, name in enumerate(names):
            key = _key(name)
            if key.startswith("x_"):
                self.x_columns.append((position, name.strip()))
            elif key in _KEY:
                self.sources.setdefault(_KEY[key], []).append((position, name.strip()))
        if not recognises(names):
            raise FileRejected(
                "unrecognised_header",
                f"{where} is not a FOCUS header (no ChargePeriodStart or BilledCost column)",
            )
        missing = [ALIASES[c][0] for c in REQUIRED if c not in self.sources]
        if missing:
            raise FileRejected(
                "missing_columns", f"FOCUS header lacks required column(s): {', '.join(missing)}"
            )
        # Within one raw column, the order of ALIASES (not the file's order) decides precedence.
        for column, found in self.sources.items():
            rank = {_key(n): i for i, n in enumerate(ALIASES[column])}
            found.sort(key=lambda item: rank[_key(item[1])])

    def row(self, fields: list[str | None]) -> dict[str, Any]:
        """Raw-schema values of one row (raises :class:`RowError`)."""
        return _row(fields, self.sources, self.x_columns)


def parse_table(
    names: list[str],
    records: Iterable[tuple[int, str, list[str | None]]],
    where: str = "the header",
    parser: str = PARSER,
) -> Parsed:
    """Parse ``(line, raw text, fields)`` records under the header ``names``.

    Shared by CSV and Parquet input: Parquet values arrive as text (see :mod:`.tabular`).
    """
    layout = Layout(names, where)
    parsed = Parsed(parser)
    for line, raw, fields in records:
        parsed.rows_read += 1
        try:
            values = layout.row(fit_fields(fields, layout.width))  # type: ignore[arg-type]
            parsed.records.append(Record(line, raw, values))
        except RowError as err:
            parsed.rejected.append(Rejected.from_error(line, raw, err))
    return parsed


def _row(
    fields: list[str | None],
    sources: dict[str, list[tuple[int, str]]],
    x_columns: list[tuple[int, str]],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in ALIASES:
        convert = _converter(column)
        value: Any = None
        raw: str | None = None
        for position, name in sources.get(column, ()):
            raw = fields[position]
            value = _tags(raw, name) if column == "tags" else convert(raw, name)
            if value is not None:
                break
        if column in REQUIRED:
            require(value, ALIASES[column][0], raw, "a value (FOCUS requires it)")
        values[column] = value
    if values["tags"] is None:
        values["tags"] = "{}"
    extras = {
        _CANONICAL_X.get(_key(name), name): clean(fields[position]) for position, name in x_columns
    }
    _check_extras(extras)
    values["x_columns"] = json.dumps(extras, ensure_ascii=False, separators=(",", ":"))
    return values
