"""Owned hardware as billing: the asset register becomes FOCUS-shaped daily rows.

An owned cluster has no invoice, so its cost is synthesised from the register
(``config/owned_hardware.csv``): straight-line depreciation and energy, one row of each per
asset per day, in the same shape as a cloud FOCUS export. The warehouse then treats owned and
rented GPUs alike: both form cost pools whose capacity is the ``GPU-Hours`` they provide.
"""

from __future__ import annotations

import json
from calendar import monthrange
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from llmledger.config import OwnedAsset as Asset

PROVIDER = "Owned"
GPU_HOURS = "GPU-Hours"
KWH = "kWh"
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


def daily_depreciation(asset: Asset) -> Decimal:
    """Straight-line depreciation for one day of useful life, rounded to 10 dp.

    The useful life is measured in calendar days (``in_service_date`` plus
    ``useful_life_months``); :func:`depreciation_for_day` gives the last day the rounding
    remainder, so the daily rows of a whole life add up to cost - salvage exactly.
    """
    life_hours = (end_of_life(asset) - asset.in_service_date).days * HOURS_PER_DAY
    per_hour = (asset.cost_usd - asset.salvage_usd) / life_hours
    return _money(per_hour * HOURS_PER_DAY)


def depreciation_for_day(asset: Asset, day: date) -> Decimal:
    """Depreciation booked for ``day``: :func:`daily_depreciation` on every day of the useful
    life but the last, which takes the remainder, so the whole life sums to cost - salvage
    exactly; zero outside the useful life."""
    life_end = end_of_life(asset)
    if not asset.in_service_date <= day < life_end:
        return Decimal(0)
    if day == life_end - timedelta(days=1):
        life_days = (life_end - asset.in_service_date).days
        return asset.cost_usd - asset.salvage_usd - daily_depreciation(asset) * (life_days - 1)
    return daily_depreciation(asset)


def daily_energy(asset: Asset) -> tuple[Decimal, Decimal]:
    """(kWh, cost) for one day: kW x 24 h x PUE, priced at ``usd_per_kwh``."""
    kwh = asset.power_kw * HOURS_PER_DAY * asset.pue
    return kwh, _money(kwh * asset.usd_per_kwh)


def _money(value: Decimal) -> Decimal:
    # Rounding only when the exact value needs more places than DECIMAL(38, 10) keeps.
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
        return value.quantize(_MONEY_PLACES)
    return value


def focus_rows_for_register(
    register_rows: Sequence[Asset],
    clusters: Iterable[Any],
    start: date,
    end: date,
    billing_account_id: str,
    invoice_prefix: str,
) -> list[dict[str, Any]]:
    """FOCUS-shaped rows for the assets of ``clusters`` for the days ``start`` <= day < ``end``.

    Per asset and day in service, two rows, both tagged ``{"cluster": <cluster>}``:

    - depreciation: ``(cost - salvage) / life_hours x 24``, ``ConsumedUnit`` ``GPU-Hours``,
      ``ConsumedQuantity`` ``gpus x 24``. After its useful life an asset still provides its
      GPU-hours at zero depreciation: the capacity is real, and a pool without capacity could
      not allocate its energy cost to the jobs that ran on it.
    - energy: ``kW x 24 x PUE x usd_per_kwh``, ``ConsumedUnit`` ``kWh``, ``ConsumedQuantity``
      the kWh (so it adds cost to the pool but no GPU capacity).

    ``clusters`` are cluster names or rows with a ``cluster`` attribute (``config.Cluster``).
    Timestamps are naive UTC ``datetime``; money and quantities ``Decimal``; ``Tags`` is JSON.
    Billing period = calendar month; ``InvoiceId`` = ``<invoice_prefix>-<YYYY-MM>``.

    Example, hand-computed: cost 1,100,000, salvage 100,000, in service 2025-01-01 for
    12 months (365 days = 8,760 h), 8 GPUs, 10 kW, PUE 1.25, 0.10 $/kWh. Depreciation per day
    = 1,000,000 / 8,760 x 24 = 2,739.7260273973 (rounded to 10 dp) for 192 GPU-hours;
    energy per day = 10 x 24 x 1.25 = 300 kWh x 0.10 = 30.00.
    """
    wanted = {c if isinstance(c, str) else c.cluster for c in clusters}
    rows: list[dict[str, Any]] = []
    assets = sorted((a for a in register_rows if a.cluster in wanted), key=lambda a: a.asset_id)
    day = start
    while day < end:
        for asset in assets:
            if day < asset.in_service_date:
                continue
            in_life = day < end_of_life(asset)
            depreciation = depreciation_for_day(asset, day)
            kwh, energy_cost = daily_energy(asset)
            common = _common(asset, day, billing_account_id, invoice_prefix)
            rows.append(
                {
                    **common,
                    "SkuId": "OWNED-GPU-DEPRECIATION",
                    "ServiceName": "Owned GPU compute",
                    "ChargeDescription": (
                        f"Straight-line depreciation of {asset.asset_id}"
                        if in_life
                        else f"{asset.asset_id} past its useful life (fully depreciated)"
                    ),
                    "PricingUnit": "Hours",
                    "PricingQuantity": Decimal(HOURS_PER_DAY),
                    "ConsumedUnit": GPU_HOURS,
                    "ConsumedQuantity": Decimal(asset.gpus * HOURS_PER_DAY),
                    **_costs(depreciation),
                }
            )
            rows.append(
                {
                    **common,
                    "SkuId": "OWNED-ENERGY",
                    "ServiceName": "Datacenter energy",
                    "ChargeDescription": (
                        f"Energy for {asset.asset_id}: {asset.power_kw} kW x 24 h x PUE "
                        f"{asset.pue} at {asset.usd_per_kwh} USD/kWh"
                    ),
                    "PricingUnit": KWH,
                    "PricingQuantity": kwh,
                    "ConsumedUnit": KWH,
                    "ConsumedQuantity": kwh,
                    **_costs(energy_cost),
                }
            )
        day += timedelta(days=1)
    return rows


def _common(asset: Asset, day: date, account: str, invoice_prefix: str) -> dict[str, Any]:
    month_start = day.replace(day=1)
    return {
        "BillingAccountId": account,
        "BillingPeriodStart": datetime.combine(month_start, time()),
        "BillingPeriodEnd": datetime.combine(add_months(month_start, 1), time()),
        "ChargePeriodStart": datetime.combine(day, time()),
        "ChargePeriodEnd": datetime.combine(day + timedelta(days=1), time()),
        "ProviderName": PROVIDER,
        "PublisherName": PROVIDER,
        "InvoiceIssuerName": PROVIDER,
        "InvoiceId": f"{invoice_prefix}-{month_start:%Y-%m}",
        "ResourceId": asset.asset_id,
        "ResourceName": f"{asset.asset_id} ({asset.gpus}x {asset.gpu_type})",
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "BillingCurrency": "USD",
        "Tags": json.dumps({"cluster": asset.cluster}),
    }


def _costs(amount: Decimal) -> dict[str, Decimal]:
    # Owned costs have no discounts: billed = effective = list = contracted.
    return {
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "ContractedCost": amount,
    }
