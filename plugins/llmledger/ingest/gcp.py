"""Google Cloud detailed billing export (CSV or JSON Lines) -> FOCUS raw rows.

Column names follow Google's "Structure of Detailed data export" (Cloud Billing BigQuery
export): ``billing_account_id``, ``service.id``/``service.description``,
``sku.id``/``sku.description``, ``usage_start_time``, ``usage_end_time``,
``project.id``/``project.name``/``project.labels``, ``labels``, ``system_labels``,
``location.region``/``location.zone``, ``resource.name``/``resource.global_name``, ``cost``,
``cost_at_list``, ``currency``, ``currency_conversion_rate``, ``usage.amount``, ``usage.unit``,
``usage.amount_in_pricing_units``, ``usage.pricing_unit``, ``price.effective_price``,
``price.pricing_unit_quantity``, ``credits`` (repeated
``{name, amount, full_name, id, type}``), ``invoice.month`` (``YYYYMM``), ``cost_type``
(``regular``, ``tax``, ``adjustment``, ``rounding_error``) and ``adjustment_info``.

In JSON Lines a record carries the nested objects as BigQuery exports them; in CSV a nested
field is a column named with a dot (``sku.id``) or an underscore (``sku_id``), and the repeated
fields (``credits``, ``labels``, ``project.labels``, ``system_labels``) are JSON text.

One export record becomes one FOCUS row for its cost plus one FOCUS row per credit
(``ChargeCategory`` ``Credit``, negative, same charge period, resource, SKU and tags), so a
credit is counted exactly once and billed cost per invoice is ``sum(cost) + sum(credits)``,
what the Google invoice says. ``rows_read`` therefore counts FOCUS rows: a record with two
credits is three rows read, all with the record's ``_source_row``; the credit rows carry
``x_SubRow`` = ``credit:<n>`` in ``x_columns`` so each has its own charge key.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from llmledger.ingest import focus, tabular
from llmledger.ingest.common import (
    FileRejected,
    Parsed,
    Record,
    Rejected,
    RowError,
    clean,
    fit_fields,
    parse_decimal,
    parse_timestamp,
    physical_lines,
    to_scale,
)

PARSER = "gcp_billing_export"
PROVIDER = "Google Cloud"
INVOICE_ISSUER = "Google"
SUB_ROW = "x_SubRow"

# Present in every detailed (and standard) export; none is a FOCUS or CUR 2.0 column name.
REQUIRED = ("billing_account_id", "usage_start_time", "usage_end_time", "cost", "currency")
# A GPU SKU: Google names them "Nvidia H100 80GB GPU running in Americas" and the like.
# Commitment SKUs ("Commitment v1: Nvidia H100 ...") pay for capacity, they do not use it.
GPU_SKU = re.compile(r"\b(nvidia|gpu)\b", re.IGNORECASE)
COMMITMENT_SKU = re.compile(r"^\s*commitment\b", re.IGNORECASE)
_SECONDS = {"seconds", "second", "s"}
_HOURS = {"hour", "hours", "h", "hr", "hrs"}
_CATEGORY = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
    "rounding error": "Adjustment",
}

# The FOCUS columns a GCP record is written as (then typed and checked by focus.Layout).
FOCUS_OUT = (
    "BillingAccountId",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "InvoiceId",
    "ResourceId",
    "ResourceName",
    "SkuId",
    "ServiceName",
    "RegionId",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "PricingUnit",
    "PricingQuantity",
    "ConsumedUnit",
    "ConsumedQuantity",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "Tags",
)
_LAYOUT = focus.Layout(list(FOCUS_OUT))


def key(name: str) -> str:
    """A column name as compared: lower case, dots and spaces as underscores."""
    return re.sub(r"[.\s]+", "_", name.strip().lower())


def recognises(names: list[str]) -> bool:
    """Whether a header (or a JSON record's flattened keys) is a GCP billing export."""
    keys = {key(n) for n in names}
    return all(c in keys for c in REQUIRED)


def looks_like_jsonl(first_line: str) -> bool:
    """Whether the first line of a file is a GCP export record in JSON."""
    try:
        record = json.loads(first_line)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and recognises(list(_flatten(record)))


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as ``a_b`` keys; lists (credits, labels) stay values."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        full = f"{prefix}{key(str(name))}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{full}_"))
        else:
            out[full] = value
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json(row: dict[str, Any], column: str, expected: str) -> Any:
    """A repeated field: already a list in JSONL, JSON text in CSV (exact decimals)."""
    value = row.get(column)
    if value is None or isinstance(value, list | dict):
        return value
    text = clean(str(value))
    if text is None:
        return None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError:
        raise RowError("bad_json", column, text, expected) from None


def _labels(row: dict[str, Any], column: str) -> dict[str, str]:
    """Labels as ``[{"key": k, "value": v}]`` (BigQuery) or ``{k: v}``."""
    value = _json(row, column, 'JSON such as [{"key": "cluster", "value": "gke-a"}]')
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): _text(v) or "" for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(i, dict) and "key" in i for i in value):
        return {str(i["key"]): _text(i.get("value")) or "" for i in value}
    raise RowError(
        "bad_json", column, json.dumps(value, default=str), 'a list of {"key", "value"} objects'
    )


def _timestamp(row: dict[str, Any], column: str) -> datetime | None:
    # BigQuery prints TIMESTAMP as "2026-01-05 10:00:00 UTC" in CSV and JSON exports.
    text = _text(row.get(column))
    if text is not None and text.rstrip().upper().endswith(" UTC"):
        text = text.rstrip()[:-4] + "+00:00"
    return parse_timestamp(text, column)


def _decimal(row: dict[str, Any], column: str) -> Decimal | None:
    return parse_decimal(_text(row.get(column)), column)


def _billing_period(row: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    text = clean(_text(row.get("invoice_month")))
    if text is None:
        return None, None
    if not re.fullmatch(r"\d{6}", text) or not 1 <= int(text[4:]) <= 12:
        raise RowError("bad_invoice_month", "invoice.month", text, "YYYYMM such as 202601")
    year, month = int(text[:4]), int(text[4:])
    start = datetime(year, month, 1)
    end = datetime(year + month // 12, month % 12 + 1, 1)
    return start, end


def gpu_hours(row: dict[str, Any]) -> Decimal | None:
    """GPU-hours of a usage record of a GPU SKU, else None.

    ``usage.amount`` is in ``usage.unit`` (seconds for GPUs); ``usage.amount_in_pricing_units``
    in ``usage.pricing_unit`` (hour) is used when the usage unit is not a time unit.
    """
    description = clean(_text(row.get("sku_description"))) or ""
    if not GPU_SKU.search(description) or COMMITMENT_SKU.search(description):
        return None
    amount = _decimal(row, "usage_amount")
    unit = (clean(_text(row.get("usage_unit"))) or "").lower()
    if amount is not None and unit in _SECONDS:
        return to_scale(amount / 3600)
    if amount is not None and unit in _HOURS:
        return amount
    priced = _decimal(row, "usage_amount_in_pricing_units")
    if priced is not None and (clean(_text(row.get("usage_pricing_unit"))) or "").lower() in _HOURS:
        return priced
    return None


def convert(row: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, str | None]]]:
    """FOCUS values and x_ columns of one export record: its cost row, then one per credit."""
    account = clean(_text(row.get("billing_account_id")))
    period_start, period_end = _billing_period(row)
    start = _timestamp(row, "usage_start_time")
    end = _timestamp(row, "usage_end_time")
    cost_type = (clean(_text(row.get("cost_type"))) or "regular").lower()
    if cost_type not in _CATEGORY:
        raise RowError(
            "bad_cost_type", "cost_type", cost_type, "regular, tax, adjustment or rounding_error"
        )
    tags = {**_labels(row, "project_labels"), **_labels(row, "labels")}
    adjustment = row.get("adjustment_info")
    if adjustment is None:
        adjustment = {
            k.removeprefix("adjustment_info_"): v
            for k, v in row.items()
            if k.startswith("adjustment_info_") and v not in (None, "")
        } or None
    elif not isinstance(adjustment, dict):
        adjustment = _json(row, "adjustment_info", "a JSON object")
    month = period_start.strftime("%Y%m") if period_start else None
    resource_name = clean(_text(row.get("resource_name")))
    hours = gpu_hours(row) if cost_type == "regular" else None
    usage_unit = clean(_text(row.get("usage_unit")))
    base = {
        "BillingAccountId": account,
        "BillingPeriodStart": period_start,
        "BillingPeriodEnd": period_end,
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ProviderName": PROVIDER,
        "PublisherName": PROVIDER,
        "InvoiceIssuerName": INVOICE_ISSUER,
        "InvoiceId": f"{account}-{month}" if account and month else None,
        "ResourceId": clean(_text(row.get("resource_global_name"))) or resource_name,
        "ResourceName": resource_name,
        "SkuId": clean(_text(row.get("sku_id"))),
        "ServiceName": clean(_text(row.get("service_description"))),
        "RegionId": clean(_text(row.get("location_region")))
        or clean(_text(row.get("location_location"))),
        "BillingCurrency": clean(_text(row.get("currency"))),
        "Tags": json.dumps(tags, sort_keys=True, ensure_ascii=False),
    }
    extras: dict[str, str | None] = {
        "x_ProjectId": clean(_text(row.get("project_id"))),
        "x_ServiceId": clean(_text(row.get("service_id"))),
        "x_CostType": cost_type,
        "x_CurrencyConversionRate": _text(_decimal(row, "currency_conversion_rate")),
        "x_Zone": clean(_text(row.get("location_zone"))),
        # price.effective_price per price.pricing_unit_quantity of usage.pricing_unit.
        "x_EffectivePrice": _text(_decimal(row, "price_effective_price")),
        "x_PricingUnitQuantity": _text(_decimal(row, "price_pricing_unit_quantity")),
    }
    system = _labels(row, "system_labels")
    if system:
        extras["x_SystemLabels"] = json.dumps(system, sort_keys=True)
    if adjustment:
        extras["x_AdjustmentInfo"] = json.dumps(adjustment, sort_keys=True, default=str)
    cost = _decimal(row, "cost")
    out = [
        (
            {
                **base,
                "ChargeCategory": _CATEGORY[cost_type],
                # An adjustment corrects usage billed before (Google: adjustment_info).
                "ChargeClass": "Correction" if cost_type == "adjustment" else None,
                "ChargeDescription": clean(_text(row.get("sku_description"))),
                "PricingUnit": clean(_text(row.get("usage_pricing_unit"))),
                "PricingQuantity": _decimal(row, "usage_amount_in_pricing_units"),
                "ConsumedUnit": "GPU-Hours" if hours is not None else usage_unit,
                "ConsumedQuantity": hours if hours is not None else _decimal(row, "usage_amount"),
                "BilledCost": cost,
                "EffectiveCost": cost,
                "ListCost": _decimal(row, "cost_at_list"),
            },
            extras,
        )
    ]
    credits = _json(row, "credits", 'a JSON list such as [{"name": "...", "amount": -1.5}]')
    if credits is None or credits == {}:
        # An empty repeated field read from Parquet looks like an empty map ({}): no credits.
        credits = []
    if not isinstance(credits, list) or not all(isinstance(c, dict) for c in credits):
        raise RowError("bad_json", "credits", json.dumps(credits, default=str), "a list of objects")
    for number, credit in enumerate(credits, start=1):
        amount = parse_decimal(_text(credit.get("amount")), f"credits[{number}].amount")
        if amount is None:
            raise RowError("missing_required", f"credits[{number}].amount", None, "an amount")
        name = clean(_text(credit.get("full_name"))) or clean(_text(credit.get("name")))
        out.append(
            (
                {
                    **base,
                    "ChargeCategory": "Credit",
                    "ChargeClass": None,
                    "ChargeDescription": name,
                    "BilledCost": amount,
                    "EffectiveCost": amount,
                },
                {
                    **extras,
                    SUB_ROW: f"credit:{number}",
                    "x_CreditId": clean(_text(credit.get("id"))),
                    "x_CreditType": clean(_text(credit.get("type"))),
                },
            )
        )
    return out


def _records(row: dict[str, Any]) -> list[dict[str, Any]]:
    converted = []
    for values, extras in convert(row):
        focus_values = _LAYOUT.row([_text(values.get(column)) for column in FOCUS_OUT])
        kept = {k: v for k, v in extras.items() if v is not None}
        focus_values["x_columns"] = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
        converted.append(focus_values)
    return converted


def _add(parsed: Parsed, line: int, raw: str, row: dict[str, Any]) -> None:
    try:
        values = _records(row)
    except RowError as err:
        parsed.rows_read += 1
        parsed.rejected.append(Rejected.from_error(line, raw, err))
        return
    parsed.rows_read += len(values)
    parsed.records.extend(Record(line, raw, v) for v in values)


# Record fields of the export; a Parquet export keeps them as structs (JSON text here).
NESTED = ("service", "sku", "project", "location", "resource", "usage", "invoice", "price")


def _unnest(row: dict[str, Any]) -> dict[str, Any]:
    for name in NESTED:
        text = row.get(name)
        if isinstance(text, str) and text.lstrip().startswith("{"):
            try:
                value = json.loads(text, parse_float=Decimal)
            except json.JSONDecodeError:
                raise RowError("bad_json", name, text, "a JSON object") from None
            row.update(_flatten(value, f"{name}_"))
    return row


def parse_table(names: list[str], records: tabular.Records) -> Parsed:
    """A CSV or Parquet export: nested fields as dotted or underscored columns (CSV) or as
    structs (Parquet, which :mod:`.tabular` hands over as JSON text)."""
    parsed = Parsed(PARSER)
    keys = [key(n) for n in names]
    for line, raw, fields in records:
        try:
            row = dict(zip(keys, fit_fields(fields, len(keys)), strict=True))  # type: ignore[arg-type]
            row = _unnest(row)
        except RowError as err:
            parsed.rows_read += 1
            parsed.rejected.append(Rejected.from_error(line, raw, err))
            continue
        _add(parsed, line, raw, row)
    return parsed


def parse_jsonl(text: str) -> Parsed:
    """A JSON Lines export: one record per line, nested as BigQuery writes it."""
    parsed = Parsed(PARSER)
    seen_record = False
    for number, line in enumerate(physical_lines(text), start=1):
        raw = line.rstrip("\r\n")
        if not raw.strip():
            continue
        try:
            record = json.loads(raw, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            parsed.rows_read += 1
            parsed.rejected.append(
                Rejected(
                    number,
                    raw,
                    "bad_json",
                    None,
                    raw[:200],
                    "one JSON object per line",
                    f"line {number} is not JSON ({exc.msg})",
                )
            )
            continue
        if not isinstance(record, dict):
            parsed.rows_read += 1
            parsed.rejected.append(
                Rejected(
                    number,
                    raw,
                    "bad_json",
                    None,
                    raw[:200],
                    "a JSON object",
                    f"line {number} is not a JSON object",
                )
            )
            continue
        seen_record = True
        _add(parsed, number, raw, _flatten(record))
    if not seen_record and parsed.rows_read == 0:
        raise FileRejected("empty_file", "the file has no JSON records")
    return parsed


def is_jsonl(text: str) -> bool:
    """Whether text starts (after blank lines) with a JSON object: a JSON Lines export."""
    first = next((line for line in physical_lines(text) if line.strip()), "")
    return first.lstrip().startswith("{")
