"""Owned hardware as billing: the asset register becomes FOCUS-shaped hourly rows.

An owned cluster has no invoice, so its cost is synthesised from the register
(``config/owned_hardware.csv``): straight-line depreciation and energy, one row of each per
asset per hour, in the same shape as a cloud FOCUS export. The warehouse then treats owned and
rented GPUs alike: both form cost pools whose capacity is the ``GPU-Hours`` they provide.
"""

from __future__ import annotations

import json
from calendar import monthrange
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from llmledger.config import OwnedAsset as Asset

PROVIDER = "Owned"  # FOCUS ProviderName of owned hardware
HOURS_PER_DAY = 24
_MONEY_PLACES = Decimal("1e-10")

FOCUS_COLUMNS = (
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
    "ContractedCost",
    "BillingCurrency",
    "Tags",
)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def end_of_life(asset: Asset) -> date:
    """First day after the asset's useful life."""
    return add_months(asset.in_service_date, asset.useful_life_months)


def life_hours(asset: Asset) -> int:
    """Hours of useful life: calendar days from ``in_service_date`` for ``useful_life_months``."""
    return (end_of_life(asset) - asset.in_service_date).days * HOURS_PER_DAY


def hourly_depreciation(asset: Asset) -> Decimal:
    """Straight-line depreciation for one hour of useful life, rounded to 10 dp.

    :func:`depreciation_for_hour` gives the last hour of the life the rounding remainder, so
    the hourly rows of a whole life add up to cost - salvage exactly.
    """
    return _money((asset.cost_usd - asset.salvage_usd) / life_hours(asset))


def last_hour_depreciation(asset: Asset) -> Decimal:
    """The last hour of the useful life: cost - salvage - every other hour's depreciation."""
    return asset.cost_usd - asset.salvage_usd - hourly_depreciation(asset) * (life_hours(asset) - 1)


def depreciation_for_hour(asset: Asset, hour: datetime) -> Decimal:
    """Depreciation booked for the hour starting at ``hour``; zero outside the useful life."""
    first = datetime.combine(asset.in_service_date, time())
    after = datetime.combine(end_of_life(asset), time())
    if not first <= hour < after:
        return Decimal(0)
    if hour == after - timedelta(hours=1):
        return last_hour_depreciation(asset)
    return hourly_depreciation(asset)


def hourly_energy(asset: Asset) -> tuple[Decimal, Decimal]:
    """(kWh, cost) for one hour: kW x 1 h x PUE, priced at ``usd_per_kwh``."""
    kwh = asset.power_kw * asset.pue
    return kwh, _money(kwh * asset.usd_per_kwh)


def _money(value: Decimal) -> Decimal:
    # Rounding only when the exact value needs more places than DECIMAL(38, 10) keeps.
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
        return value.quantize(_MONEY_PLACES)
    return value


# One row per asset: what every hour of it costs, computed exactly in Python (few assets), so
# the hour-by-hour expansion below is a DuckDB range() with no arithmetic on money.
_ASSET_SCHEMA = pa.schema(
    [
        ("asset_no", pa.int64()),
        ("asset_id", pa.string()),
        ("tags", pa.string()),
        ("resource_name", pa.string()),
        ("gpus", pa.decimal128(38, 10)),
        ("first_hour", pa.timestamp("us")),
        ("stop_hour", pa.timestamp("us")),
        ("life_last_hour", pa.timestamp("us")),
        ("life_end", pa.timestamp("us")),
        ("per_hour", pa.decimal128(38, 10)),
        ("last_hour", pa.decimal128(38, 10)),
        ("kwh", pa.decimal128(38, 10)),
        ("energy_cost", pa.decimal128(38, 10)),
        ("energy_description", pa.string()),
        ("depreciation_description", pa.string()),
        ("past_life_description", pa.string()),
    ]
)

_HOURLY_SQL = """
with months as (
    -- Strings that change by month are built once per asset and month, not per hour.
    select
        assets.*,
        unnest(range(date_trunc('month', first_hour), stop_hour, interval 1 month)) as month
    from assets
),

invoices as (
    select
        *,
        month + interval 1 month as month_end,
        $prefix || '-' || strftime(month, '%Y-%m') as invoice_id
    from months
),

hours as (
    select
        invoices.*,
        unnest(range(
            greatest(month, first_hour), least(month_end, stop_hour), interval 1 hour
        )) as hour
    from invoices
),

kinds as (
    select hours.*, kinds.kind from hours cross join (values (0), (1)) as kinds (kind)
)

select
    $account as "BillingAccountId",
    month as "BillingPeriodStart",
    month_end as "BillingPeriodEnd",
    hour as "ChargePeriodStart",
    hour + interval 1 hour as "ChargePeriodEnd",
    $provider as "ProviderName",
    $provider as "PublisherName",
    $provider as "InvoiceIssuerName",
    invoice_id as "InvoiceId",
    asset_id as "ResourceId",
    resource_name as "ResourceName",
    case kind when 0 then 'OWNED-GPU-DEPRECIATION' else 'OWNED-ENERGY' end as "SkuId",
    case kind when 0 then 'Owned GPU compute' else 'Datacenter energy' end as "ServiceName",
    'Usage' as "ChargeCategory",
    cast(null as varchar) as "ChargeClass",
    case
        when kind = 1 then energy_description
        when hour < life_end then depreciation_description
        else past_life_description
    end as "ChargeDescription",
    case kind when 0 then 'Hours' else 'kWh' end as "PricingUnit",
    case kind when 0 then cast(1 as decimal(38, 10)) else kwh end as "PricingQuantity",
    case kind when 0 then 'GPU-Hours' else 'kWh' end as "ConsumedUnit",
    case kind when 0 then gpus else kwh end as "ConsumedQuantity",
    case
        when kind = 1 then energy_cost
        when hour >= life_end then cast(0 as decimal(38, 10))
        when hour = life_last_hour then last_hour
        else per_hour
    end as cost,
    'USD' as "BillingCurrency",
    tags as "Tags",
    asset_no,
    kind
from kinds
"""


def focus_table_for_register(
    register_rows: Sequence[Asset],
    clusters: Iterable[Any],
    start: date | datetime,
    end: date | datetime,
    billing_account_id: str,
    invoice_prefix: str,
) -> pa.Table:
    """FOCUS-shaped hourly rows for the assets of ``clusters``, hours in ``[start, end)``.

    Per asset and hour in service, two rows, both tagged ``{"cluster": <cluster>}``:

    - depreciation: ``(cost - salvage) / life_hours`` (the last hour of the useful life takes
      the rounding remainder), ``ConsumedUnit`` ``GPU-Hours``, ``ConsumedQuantity`` ``gpus``.
      After its useful life an asset still provides its GPU-hours at zero depreciation: the
      capacity is real, and a pool without capacity could not allocate its energy cost.
    - energy: ``kW x 1 h x PUE x usd_per_kwh``, ``ConsumedUnit`` ``kWh``, ``ConsumedQuantity``
      the kWh (so it adds cost to the pool but no GPU capacity).

    Only hours inside the window are generated (the caller passes its billing window, e.g.
    one month), and they are expanded by DuckDB, not by a Python loop, so a large register
    over a year stays fast. Columns :data:`FOCUS_COLUMNS` with ``BilledCost`` =
    ``EffectiveCost`` = ``ListCost`` = ``ContractedCost``; timestamps naive UTC; money
    DECIMAL(38, 10). Billing period = calendar month; ``InvoiceId`` =
    ``<invoice_prefix>-<YYYY-MM>``.

    Example, hand-computed: cost 1,100,000, salvage 100,000, in service 2025-01-01 for
    12 months (365 days = 8,760 h), 8 GPUs, 10 kW, PUE 1.25, 0.10 $/kWh. Depreciation per hour
    = 1,000,000 / 8,760 = 114.1552511416 (rounded to 10 dp) for 8 GPU-hours; energy per hour
    = 10 x 1.25 = 12.5 kWh x 0.10 = 1.25.
    """
    import duckdb

    wanted = {c if isinstance(c, str) else c.cluster for c in clusters}
    window_start = _as_datetime(start)
    window_end = _as_datetime(end)
    assets = []
    for asset in sorted(
        (a for a in register_rows if a.cluster in wanted), key=lambda a: a.asset_id
    ):
        first = max(window_start, datetime.combine(asset.in_service_date, time()))
        if first >= window_end:
            continue
        life_end = datetime.combine(end_of_life(asset), time())
        kwh, energy_cost = hourly_energy(asset)
        assets.append(
            {
                "asset_no": len(assets),
                "asset_id": asset.asset_id,
                "tags": json.dumps({"cluster": asset.cluster}),
                "resource_name": f"{asset.asset_id} ({asset.gpus}x {asset.gpu_type})",
                "gpus": Decimal(asset.gpus),
                "first_hour": first,
                "stop_hour": window_end,
                "life_last_hour": life_end - timedelta(hours=1),
                "life_end": life_end,
                "per_hour": hourly_depreciation(asset),
                "last_hour": last_hour_depreciation(asset),
                "kwh": kwh,
                "energy_cost": energy_cost,
                "energy_description": (
                    f"Energy for {asset.asset_id}: {asset.power_kw} kW x 1 h x PUE "
                    f"{asset.pue} at {asset.usd_per_kwh} USD/kWh"
                ),
                "depreciation_description": f"Straight-line depreciation of {asset.asset_id}",
                "past_life_description": (
                    f"{asset.asset_id} past its useful life (fully depreciated)"
                ),
            }
        )
    con = duckdb.connect()
    try:
        con.register("assets", pa.Table.from_pylist(assets, schema=_ASSET_SCHEMA))
        table = con.sql(
            _HOURLY_SQL,
            params={"account": billing_account_id, "provider": PROVIDER, "prefix": invoice_prefix},
        ).to_arrow_table()
    finally:
        con.close()
    # Sorting the narrow keys and taking rows is several times faster than ORDER BY here.
    order = pc.sort_indices(
        table,
        sort_keys=[
            ("ChargePeriodStart", "ascending"),
            ("asset_no", "ascending"),
            ("kind", "ascending"),
        ],
    )
    table = table.take(order)
    cost = table["cost"]
    table = table.drop_columns(["cost", "asset_no", "kind"])
    for name in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        table = table.append_column(name, cost)
    return table.select(list(FOCUS_COLUMNS))


def focus_rows_for_register(
    register_rows: Sequence[Asset],
    clusters: Iterable[Any],
    start: date,
    end: date,
    billing_account_id: str,
    invoice_prefix: str,
) -> list[dict[str, Any]]:
    """:func:`focus_table_for_register` as a list of dicts (``Decimal``, ``datetime``, JSON
    ``Tags``), for callers that write a modest number of rows themselves (the demo)."""
    return focus_table_for_register(
        register_rows, clusters, start, end, billing_account_id, invoice_prefix
    ).to_pylist()


def _as_datetime(moment: date | datetime) -> datetime:
    return moment if isinstance(moment, datetime) else datetime.combine(moment, time())
