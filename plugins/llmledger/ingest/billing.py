"""Every billing file into FOCUS shape: FOCUS itself, AWS CUR 2.0, and per-provider mappings.

The landing folder ``billing/`` receives all of them, as CSV, ``.csv.gz`` or Parquet (see
:mod:`.tabular`). The format is recognised by the header: FOCUS columns, CUR 2.0
``line_item_*`` columns, or the columns a mapping in ``config/billing_mappings/*.yaml`` names
(a file under ``landing/billing/<name>/`` uses ``<name>.yaml`` first). Mapped rows are
rewritten as FOCUS fields and go through the FOCUS row parser, so they are checked and typed
exactly like a FOCUS export; errors still name the source column and value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

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
    to_scale,
)
from llmledger.paths import Home

CUR_PARSER = "aws_cur2"
MAPPED_PARSER = "billing_mapping"
MAPPINGS_FOLDER = "billing_mappings"

# The FOCUS columns a mapped row is written as (then parsed by focus.Layout).
FOCUS_OUT = (
    "BillingAccountId",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "InvoiceIssuerName",
    "InvoiceId",
    "ResourceId",
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
    "CommitmentDiscountId",
    "CommitmentDiscountStatus",
    "Tags",
)
_LAYOUT = focus.Layout(list(FOCUS_OUT))


def _key(name: str) -> str:
    return re.sub(r"\s+", "", name).lower()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _mapped_parse(
    names: list[str],
    records: tabular.Records,
    parser: str,
    convert: Callable[[dict[str, str | None]], dict[str, Any]],
) -> Parsed:
    """Rows of a non-FOCUS file through ``convert`` (source row -> FOCUS values) and FOCUS."""
    parsed = Parsed(parser)
    for line, raw, fields in records:
        parsed.rows_read += 1
        try:
            source = dict(zip(names, fit_fields(fields, len(names)), strict=True))  # type: ignore[arg-type]
            out = convert(source)
            values = _LAYOUT.row([_text(out.get(column)) for column in FOCUS_OUT])
            parsed.records.append(Record(line, raw, values))
        except RowError as err:
            parsed.rejected.append(Rejected.from_error(line, raw, err))
    return parsed


# --- AWS CUR 2.0 ------------------------------------------------------------------------------
# Column names: AWS Data Exports, "Cost and Usage Report (CUR) 2.0" table dictionary.
CUR_REQUIRED = (
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_unblended_cost",
    "line_item_line_item_type",
)
# GPUs per instance type, for GPU-hours capacity of instance-hour rows (AWS instance docs).
GPUS_PER_INSTANCE = {
    "p4d.24xlarge": 8,
    "p4de.24xlarge": 8,
    "p5.48xlarge": 8,
    "p5e.48xlarge": 8,
    "p5en.48xlarge": 8,
    "p6-b200.48xlarge": 8,
    "g5.xlarge": 1,
    "g5.12xlarge": 4,
    "g5.48xlarge": 8,
    "g6.xlarge": 1,
    "g6.12xlarge": 4,
    "g6.48xlarge": 8,
}
_CUR_CATEGORY = {
    "Usage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Credit",
    "BundledDiscount": "Credit",
    "EdpDiscount": "Credit",
    "PrivateRateDiscount": "Credit",
}


def is_cur(names: list[str]) -> bool:
    keys = {_key(n) for n in names}
    return all(c in keys for c in CUR_REQUIRED)


def _num(row: dict[str, str | None], column: str) -> Decimal:
    return parse_decimal(row.get(column), column) or Decimal(0)


def cur_amortized_cost(row: dict[str, str | None]) -> Decimal:
    """Amortized (effective) cost of a CUR 2.0 row, by line item type.

    Covered usage costs its commitment's effective cost; the commitment fees carry only their
    unused part (so the purchase is not counted twice and unused commitment stays visible);
    Savings Plan negations and up-front fees are 0; everything else its unblended cost.
    """
    kind = row.get("line_item_line_item_type")
    if kind == "SavingsPlanCoveredUsage":
        return _num(row, "savings_plan_savings_plan_effective_cost")
    if kind == "SavingsPlanRecurringFee":
        return _num(row, "savings_plan_total_commitment_to_date") - _num(
            row, "savings_plan_used_commitment"
        )
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "DiscountedUsage":
        return _num(row, "reservation_effective_cost")
    if kind == "RIFee":
        return _num(row, "reservation_unused_amortized_upfront_fee_for_billing_period") + _num(
            row, "reservation_unused_recurring_fee"
        )
    if kind == "Fee" and clean(row.get("reservation_reservation_a_r_n")):
        return Decimal(0)  # the RI up-front fee: amortized over the covered usage
    return _num(row, "line_item_unblended_cost")


def _cur_tags(row: dict[str, str | None]) -> str:
    raw = clean(row.get("resource_tags"))
    tags: dict[str, Any] = {}
    if raw is not None:
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError:
            loaded = None
        if not isinstance(loaded, dict):
            raise RowError(
                "bad_tags", "resource_tags", raw, 'a JSON object such as {"user_cluster": "a"}'
            )
        # User-defined cost allocation tags are prefixed user_ in CUR 2.0.
        tags = {k.removeprefix("user_"): v for k, v in loaded.items()}
    for name, value in list(row.items()):
        if name.startswith("resource_tags_user_") and clean(value) is not None:
            tags[name.removeprefix("resource_tags_user_")] = clean(value)
    return json.dumps(tags, sort_keys=True)


def _instance_type(row: dict[str, str | None]) -> str | None:
    direct = clean(row.get("product_instance_type"))
    if direct:
        return direct
    product = clean(row.get("product"))
    if product:
        try:
            return json.loads(product).get("instance_type")
        except (json.JSONDecodeError, AttributeError):
            return None
    return None


def _cur_row(source: dict[str, str | None]) -> dict[str, Any]:
    row = {_key(k): v for k, v in source.items()}
    kind = clean(row.get("line_item_line_item_type"))
    if kind is None:
        raise RowError("missing_required", "line_item_line_item_type", None, "a line item type")
    usage = parse_decimal(row.get("line_item_usage_amount"), "line_item_usage_amount")
    unit = clean(row.get("pricing_unit"))
    consumed_unit, consumed = unit, usage
    gpus = GPUS_PER_INSTANCE.get(_instance_type(row) or "")
    if (
        gpus
        and usage is not None
        and (unit or "").lower() in ("hrs", "hours")
        and kind
        in (
            "Usage",
            "SavingsPlanCoveredUsage",
            "DiscountedUsage",
        )
    ):
        consumed_unit, consumed = "GPU-Hours", usage * gpus
    commitment = clean(row.get("savings_plan_savings_plan_a_r_n")) or clean(
        row.get("reservation_reservation_a_r_n")
    )
    status = None
    if kind in ("SavingsPlanCoveredUsage", "DiscountedUsage"):
        status = "Used"
    elif kind in ("SavingsPlanRecurringFee", "RIFee"):
        status = "Unused"
    return {
        "BillingAccountId": clean(row.get("bill_payer_account_id")),
        "BillingPeriodStart": clean(row.get("bill_billing_period_start_date")),
        "BillingPeriodEnd": clean(row.get("bill_billing_period_end_date")),
        "ChargePeriodStart": clean(row.get("line_item_usage_start_date")),
        "ChargePeriodEnd": clean(row.get("line_item_usage_end_date")),
        "ProviderName": "AWS",
        "InvoiceIssuerName": clean(row.get("bill_invoicing_entity")) or "AWS",
        "InvoiceId": clean(row.get("bill_invoice_id")),
        "ResourceId": clean(row.get("line_item_resource_id")),
        "SkuId": clean(row.get("product_sku")),
        "ServiceName": clean(row.get("line_item_product_code")),
        "RegionId": clean(row.get("product_region_code")),
        "ChargeCategory": _CUR_CATEGORY.get(kind, "Adjustment"),
        "ChargeClass": None,
        "ChargeDescription": clean(row.get("line_item_line_item_description")),
        "PricingUnit": unit,
        "PricingQuantity": clean(row.get("pricing_public_on_demand_cost")) and usage,
        "ConsumedUnit": consumed_unit,
        "ConsumedQuantity": consumed,
        "BilledCost": clean(row.get("line_item_unblended_cost")),
        "EffectiveCost": to_scale(cur_amortized_cost(row)),
        "ListCost": clean(row.get("pricing_public_on_demand_cost")),
        "BillingCurrency": clean(row.get("line_item_currency_code")),
        "CommitmentDiscountId": commitment,
        "CommitmentDiscountStatus": status,
        "Tags": _cur_tags(row),
    }


# --- per-provider mappings (neocloud GPU invoices) -----------------------------------------------
MAPPING_KEYS = {"provider", "match_columns", "columns", "constants", "tags", "day_format"}
MAPPING_COLUMNS = {
    "day",
    "resource_id",
    "gpu_hours",
    "rate",
    "amount",
    "invoice_id",
    "billing_account_id",
    "sku_id",
    "region",
    "currency",
    "cluster",
    "description",
}


@dataclass(frozen=True)
class Mapping:
    """A ``config/billing_mappings/<name>.yaml``: one provider's invoice CSV -> FOCUS."""

    name: str
    provider: str
    match_columns: tuple[str, ...]
    columns: dict[str, str]
    constants: dict[str, str]
    tags: dict[str, str]
    source: str

    def matches(self, names: list[str]) -> bool:
        keys = {_key(n) for n in names}
        return all(_key(c) in keys for c in self.match_columns)


def _mapping_error(path: Path, key: str, value: Any, expected: str) -> FileRejected:
    return FileRejected(
        "bad_billing_mapping",
        f"{path.parent.name}/{path.name}: key {key}: got {value!r}, expected {expected}",
    )


def load_mapping(path: Path) -> Mapping:
    """Read and check one mapping file; errors name the file, the key and what was expected."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise _mapping_error(path, "(file)", str(exc), "valid YAML") from exc
    if not isinstance(doc, dict):
        raise _mapping_error(path, "(file)", doc, "a mapping of keys")
    unknown = set(doc) - MAPPING_KEYS
    if unknown:
        raise _mapping_error(
            path, sorted(unknown)[0], doc[sorted(unknown)[0]], f"one of {sorted(MAPPING_KEYS)}"
        )
    if not isinstance(doc.get("provider"), str):
        raise _mapping_error(path, "provider", doc.get("provider"), "the provider name")
    columns = doc.get("columns") or {}
    constants = doc.get("constants") or {}
    for key, table in (("columns", columns), ("constants", constants)):
        if not isinstance(table, dict) or set(table) - MAPPING_COLUMNS:
            raise _mapping_error(path, key, table, f"keys among {sorted(MAPPING_COLUMNS)}")
    for needed in ("day", "resource_id", "gpu_hours", "rate"):
        if needed not in columns:
            raise _mapping_error(path, f"columns.{needed}", None, "the source column holding it")
    match = doc.get("match_columns") or list(columns.values())
    return Mapping(
        name=path.stem,
        provider=doc["provider"],
        match_columns=tuple(str(c) for c in match),
        columns={k: str(v) for k, v in columns.items()},
        constants={k: str(v) for k, v in constants.items()},
        tags={str(k): str(v) for k, v in (doc.get("tags") or {}).items()},
        source=f"{MAPPINGS_FOLDER}/{path.name}",
    )


def load_mappings(home: Home) -> list[Mapping]:
    folder = home.config / MAPPINGS_FOLDER
    if not folder.is_dir():
        return []
    return [load_mapping(p) for p in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))]


def _mapped_row(mapping: Mapping, source: dict[str, str | None]) -> dict[str, Any]:
    by_key = {_key(k): (k, v) for k, v in source.items()}

    def value(field: str) -> tuple[str, str | None]:
        if field in mapping.columns:
            name, raw = by_key.get(_key(mapping.columns[field]), (mapping.columns[field], None))
            return name, clean(raw)
        return field, mapping.constants.get(field)

    day_column, day_text = value("day")
    day = parse_timestamp(day_text, day_column)
    if day is None:
        raise RowError("missing_required", day_column, day_text, "the day of usage")
    day = day.replace(hour=0, minute=0, second=0, microsecond=0)
    hours_column, hours_text = value("gpu_hours")
    rate_column, rate_text = value("rate")
    hours = parse_decimal(hours_text, hours_column)
    rate = parse_decimal(rate_text, rate_column)
    if hours is None or rate is None:
        column, raw = (hours_column, hours_text) if hours is None else (rate_column, rate_text)
        raise RowError("missing_required", column, raw, "a number")
    cost = to_scale(hours * rate)
    amount_column, amount_text = value("amount")
    amount = parse_decimal(amount_text, amount_column)
    if amount is not None and abs(amount - cost) > Decimal("0.005"):
        raise RowError(
            "amount_mismatch",
            amount_column,
            amount_text,
            f"{hours} GPU-hours x {rate} = {cost} (to the cent)",
        )
    billed = amount if amount is not None else cost
    tags = dict(mapping.tags)
    cluster = value("cluster")[1]
    if cluster:
        tags["cluster"] = cluster
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return {
        "BillingAccountId": value("billing_account_id")[1],
        "BillingPeriodStart": month,
        "BillingPeriodEnd": next_month,
        "ChargePeriodStart": day,
        "ChargePeriodEnd": day + timedelta(days=1),
        "ProviderName": mapping.provider,
        "InvoiceIssuerName": mapping.provider,
        "InvoiceId": value("invoice_id")[1],
        "ResourceId": value("resource_id")[1],
        "SkuId": value("sku_id")[1],
        "ServiceName": "GPU compute",
        "RegionId": value("region")[1],
        "ChargeCategory": "Usage",
        "ChargeDescription": value("description")[1],
        "PricingUnit": "GPU-Hours",
        "PricingQuantity": hours,
        "ConsumedUnit": "GPU-Hours",
        "ConsumedQuantity": hours,
        "BilledCost": billed,
        "EffectiveCost": billed,
        "ListCost": billed,
        "BillingCurrency": value("currency")[1] or "USD",
        "Tags": json.dumps(tags, sort_keys=True),
    }


# --- dispatch ---------------------------------------------------------------------------------
def recognises(names: list[str]) -> bool:
    """Whether a header is billing in a shape read without configuration (FOCUS, CUR 2.0, GCP)."""
    from llmledger.ingest import gcp

    return focus.recognises(names) or is_cur(names) or gcp.recognises(names)


def sniff_parquet(data: bytes) -> str | None:
    """``focus`` (the billing kind) if a Parquet file's columns look like billing, else None."""
    try:
        names, _ = tabular.parquet_table(data)
    except FileRejected:
        return None
    return "focus" if recognises(names) else None


def _folder_hint(home: Home, path: Path) -> str | None:
    try:
        parts = path.relative_to(home.landing / "billing").parts
    except ValueError:
        return None
    return parts[0] if len(parts) >= 2 else None


def parse(home: Home, path: Path, data: bytes) -> Parsed:
    """Parse a billing file (CSV, JSON Lines or Parquet, gzip removed) into FOCUS raw rows."""
    from llmledger.ingest import gcp
    from llmledger.ingest.common import decode

    if not tabular.is_parquet(data):
        text = decode(data)
        if gcp.is_jsonl(text):
            return gcp.parse_jsonl(text)
    names, records, where = tabular.read_table(data)
    mappings = load_mappings(home)
    hint = _folder_hint(home, path)
    chosen = next((m for m in mappings if m.name == hint and m.matches(names)), None)
    if chosen is None and not recognises(names):
        chosen = next((m for m in mappings if m.matches(names)), None)
    if chosen is not None:
        mapping = chosen
        return _mapped_parse(
            names, records, f"{MAPPED_PARSER}:{mapping.name}", lambda r: _mapped_row(mapping, r)
        )
    if is_cur(names) and not focus.recognises(names):
        return _mapped_parse(names, records, CUR_PARSER, _cur_row)
    if gcp.recognises(names) and not focus.recognises(names):
        return gcp.parse_table(names, records)
    if focus.recognises(names):
        return focus.parse_table(names, records, where)
    known = ", ".join(m.source for m in mappings) or "none"
    raise FileRejected(
        "unrecognised_header",
        f"{where} is neither FOCUS (ChargePeriodStart/BilledCost), AWS CUR 2.0 (line_item_*), "
        f"a GCP billing export (usage_start_time, cost) nor the columns of a billing mapping "
        f"in config/{MAPPINGS_FOLDER}/ (mappings: {known})",
    )
