"""Billing of the demo lab as FOCUS CSV: the owned cluster (from its register) and the cloud.

The cloud bill follows how a GPU neocloud bills a prepaid commitment: the purchase is billed
once (``BilledCost`` > 0, ``EffectiveCost`` = 0) and amortized day by day over its term into
covered-usage rows (``Used``) and idle-commitment rows (``Unused``), so that over the term the
effective cost of those rows adds up to the purchase exactly. On-demand nodes rented on top
are rented from a neocloud that bills its own CSV (:func:`neocloud_rows`). Storage, an LLM
API bill, the cluster's scratch filesystem (a shared non-GPU cost) and support complete
the cloud invoice.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from llmledger.config import OwnedAsset
from llmledger.demo import organisation as org
from llmledger.demo.jobs import Job
from llmledger.owned_hardware import FOCUS_COLUMNS, add_months, focus_rows_for_register

CSV_COLUMNS = (
    *FOCUS_COLUMNS[:-1],
    "RegionId",
    "CommitmentDiscountId",
    "CommitmentDiscountCategory",
    "CommitmentDiscountStatus",
    FOCUS_COLUMNS[-1],
)
_PLACES = Decimal("1e-10")
_QTY = Decimal("1e-6")
_CENT = Decimal("0.01")
SCRATCH_TB = Decimal(500)
SCRATCH_MONTHLY = Decimal("6500.00")  # 500 TB-month at 13.00


def months() -> list[date]:
    """First day of every month of the demo period."""
    out, month = [], org.START
    while month < org.END:
        out.append(month)
        month = add_months(month, 1)
    return out


def cloud_gpus_by_day() -> dict[date, int]:
    """GPUs paid for on the cloud cluster per day: the commitment, plus on-demand in bursts."""
    gpus = {}
    day = org.START
    while day < org.END:
        burst = any(first <= day < last for first, last in org.BURST_WINDOWS)
        gpus[day] = org.CLUSTER_GPUS[org.CLOUD] if burst else _commitment(day).gpus
        day += timedelta(days=1)
    return gpus


def _commitment(day: date) -> org.Commitment:
    return next(c for c in org.COMMITMENTS if c.start <= day < c.end)


def owned_rows(assets: Sequence[OwnedAsset], month: date) -> list[dict[str, Any]]:
    """The owned cluster's FOCUS rows for one month (one invoice)."""
    return focus_rows_for_register(
        assets,
        [org.OWNED],
        month,
        add_months(month, 1),
        org.OWNED_ACCOUNT,
        org.OWNED_INVOICE_PREFIX,
    )


def _gpu_seconds_by_day(jobs: Sequence[Job]) -> dict[date, int]:
    used: dict[date, int] = defaultdict(int)
    for job in jobs:
        moment = job.start
        while moment < job.end:
            next_midnight = datetime.combine(moment.date() + timedelta(days=1), time())
            upto = min(next_midnight, job.end)
            used[moment.date()] += job.gpus * int((upto - moment).total_seconds())
            moment = upto
    return used


def _daily_amortization(commitment: org.Commitment, day: date) -> Decimal:
    share = (commitment.amount / commitment.days).quantize(_PLACES)
    if day == commitment.end - timedelta(days=1):
        # The last day takes the rounding remainder: the term then sums to the purchase exactly.
        return commitment.amount - share * (commitment.days - 1)
    return share


def cloud_rows(rng: random.Random, cloud_jobs: Sequence[Job]) -> dict[date, list[dict[str, Any]]]:
    """The cloud cluster's FOCUS rows per billing month."""
    used = _gpu_seconds_by_day(cloud_jobs)
    capacity = cloud_gpus_by_day()
    rows: dict[date, list[dict[str, Any]]] = defaultdict(list)
    cluster_tag = json.dumps({"cluster": org.CLOUD})
    for day in capacity:
        month = day.replace(day=1)
        commitment = _commitment(day)
        if day == commitment.start:
            rows[month].append(_purchase(commitment, month))
        committed = Decimal(commitment.gpus * 24)
        job_hours = (Decimal(used.get(day, 0)) / 3600).quantize(_QTY)
        covered = min(job_hours, committed)
        amortized = _daily_amortization(commitment, day)
        covered_cost = (amortized * covered / committed).quantize(_PLACES)
        charge = _charge(month, day, day + timedelta(days=1))
        commit_cols = {
            "CommitmentDiscountId": commitment.commitment_id,
            "CommitmentDiscountCategory": "Usage",
            "SkuId": "H200-GPU-HOUR",
            "ServiceName": "GPU Compute",
            "PricingUnit": "GPU-Hours",
            "ConsumedUnit": "GPU-Hours",
            "BilledCost": Decimal(0),
            "Tags": cluster_tag,
        }
        if covered > 0:
            rows[month].append(
                {
                    **charge,
                    **commit_cols,
                    "ChargeDescription": f"H200 GPU-hours covered by {commitment.commitment_id}",
                    "CommitmentDiscountStatus": "Used",
                    "PricingQuantity": covered,
                    "ConsumedQuantity": covered,
                    "EffectiveCost": covered_cost,
                    "ContractedCost": covered_cost,
                    "ListCost": covered * org.ON_DEMAND_RATE,
                }
            )
        if covered < committed:
            unused_cost = amortized - covered_cost
            rows[month].append(
                {
                    **charge,
                    **commit_cols,
                    "ChargeDescription": f"Unused commitment {commitment.commitment_id}",
                    "CommitmentDiscountStatus": "Unused",
                    "PricingQuantity": committed - covered,
                    "ConsumedQuantity": committed - covered,
                    "EffectiveCost": unused_cost,
                    "ContractedCost": unused_cost,
                    "ListCost": Decimal(0),
                }
            )
    # GPUs above the commitment are rented by the day from a neocloud: see neocloud_rows().
    for month in months():
        rows[month].extend(_monthly_rows(rng, month))
    return dict(rows)


def neocloud_rows() -> dict[date, list[dict[str, Any]]]:
    """Burst nodes rented from the neocloud, per billing month, as its invoice CSV rows.

    The neocloud bills a plain CSV (one row per node per day: GPU-hours x rate), mapped into
    FOCUS by ``config/billing_mappings/hyperbolt.yaml`` (:data:`NEOCLOUD_MAPPING`): the demo's
    second billing format. The neocloud does not know the lab's cluster names: its nodes join
    the cloud cluster's pools through a rule of ``config/cluster_mapping.csv``.
    """
    rows: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for day, gpus in cloud_gpus_by_day().items():
        extra = gpus - _commitment(day).gpus
        month = day.replace(day=1)
        for node in range(extra // org.NEOCLOUD_GPUS_PER_NODE):
            hours = Decimal(org.NEOCLOUD_GPUS_PER_NODE * 24)
            rows[month].append(
                {
                    "invoice_number": neocloud_invoice_id(month),
                    "usage_date": day,
                    "node_id": f"hb-h200-{node + 1:02d}",
                    "gpu_model": "H200",
                    "gpu_hours": hours,
                    "rate_usd": org.ON_DEMAND_RATE,
                    "amount_usd": hours * org.ON_DEMAND_RATE,
                }
            )
    return dict(rows)


NEOCLOUD_COLUMNS = (
    "invoice_number",
    "usage_date",
    "node_id",
    "gpu_model",
    "gpu_hours",
    "rate_usd",
    "amount_usd",
)
NEOCLOUD_MAPPING = f"""\
# How {org.NEOCLOUD_PROVIDER}'s invoice CSV maps into FOCUS (README "Billing formats").
provider: {org.NEOCLOUD_PROVIDER}
match_columns: [usage_date, node_id, gpu_hours, rate_usd]
columns:
  day: usage_date
  resource_id: node_id
  gpu_hours: gpu_hours
  rate: rate_usd
  amount: amount_usd
  invoice_id: invoice_number
  sku_id: gpu_model
constants:
  billing_account_id: {org.NEOCLOUD_ACCOUNT}
  currency: USD
  description: On-demand H200 node (8 GPUs), rented by the day
"""


def neocloud_invoice_id(month: date) -> str:
    """The neocloud's invoice number for a billing month."""
    return f"HB-{month:%Y%m}"


def neocloud_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The neocloud's invoice CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(NEOCLOUD_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in NEOCLOUD_COLUMNS])
    return buffer.getvalue()


def _monthly_rows(rng: random.Random, month: date) -> list[dict[str, Any]]:
    charge = _charge(month, month, add_months(month, 1))
    out = []
    crawl_gb = Decimal(182_400 + 350 * rng.randint(0, 3))
    out.append(
        {
            **charge,
            **_costs((crawl_gb * Decimal("0.021")).quantize(_CENT)),
            "SkuId": "OBJ-STD-GBMO",
            "ServiceName": "Object Storage",
            "ResourceId": "bucket/web-crawl-2024",
            "ResourceName": "web-crawl-2024",
            "ChargeDescription": "Standard object storage, raw crawl",
            "PricingUnit": "GB-Month",
            "PricingQuantity": crawl_gb,
            "ConsumedUnit": "GB-Month",
            "ConsumedQuantity": crawl_gb,
            "Tags": json.dumps({"dataset_version": "web-crawl-v1", "activity": "data.acquisition"}),
        }
    )
    synth_tags = json.dumps({"dataset_version": "synth-math-v1", "activity": "data.generation"})
    if month >= date(2025, 8, 1):
        synth_gb = Decimal(rng.randint(1800, 2600))
        out.append(
            {
                **charge,
                **_costs((synth_gb * Decimal("0.021")).quantize(_CENT)),
                "SkuId": "OBJ-STD-GBMO",
                "ServiceName": "Object Storage",
                "ResourceId": "bucket/synth-math",
                "ResourceName": "synth-math",
                "ChargeDescription": "Standard object storage, synthetic math",
                "PricingUnit": "GB-Month",
                "PricingQuantity": synth_gb,
                "ConsumedUnit": "GB-Month",
                "ConsumedQuantity": synth_gb,
                "Tags": synth_tags,
            }
        )
    if date(2025, 8, 1) <= month < date(2025, 11, 1) or date(2026, 2, 1) <= month < date(
        2026, 5, 1
    ):
        million_tokens = Decimal(rng.randint(3_000, 9_000))
        out.append(
            {
                **charge,
                **_costs(million_tokens * Decimal("2.50")),
                "SkuId": "LLM-API-MTOK",
                "ServiceName": "Inference API",
                "ChargeDescription": "Frontier-model API: verification of synthetic solutions",
                "PricingUnit": "1M tokens",
                "PricingQuantity": million_tokens,
                "ConsumedUnit": "1M tokens",
                "ConsumedQuantity": million_tokens,
                "Tags": synth_tags,
            }
        )
    # The cluster's shared scratch filesystem: a non-GPU cost of the cluster (tag cost_type),
    # distributed to the month's jobs pro rata to their GPU cost. A fixed amount, so it draws
    # nothing from rng and leaves every other figure of the demo as it was.
    out.append(
        {
            **charge,
            **_costs(SCRATCH_MONTHLY),
            "SkuId": "PFS-SCRATCH-TBMO",
            "ServiceName": "Parallel File System",
            "ResourceId": f"fs/{org.CLOUD}-scratch",
            "ResourceName": f"{org.CLOUD}-scratch",
            "ChargeDescription": f"Scratch parallel filesystem attached to {org.CLOUD}",
            "PricingUnit": "TB-Month",
            "PricingQuantity": SCRATCH_TB,
            "ConsumedUnit": "TB-Month",
            "ConsumedQuantity": SCRATCH_TB,
            "Tags": json.dumps({"cluster": org.CLOUD, "cost_type": "storage"}),
        }
    )
    out.append(
        {
            **charge,
            **_costs(Decimal("4800.00")),
            "SkuId": "SUPPORT-BIZ",
            "ServiceName": "Support",
            "ChargeDescription": "Business support plan and private interconnect",
            "PricingUnit": "Month",
            "PricingQuantity": Decimal(1),
            "Tags": "{}",
        }
    )
    return out


def _purchase(commitment: org.Commitment, month: date) -> dict[str, Any]:
    start = commitment.start
    return {
        **_charge(month, start, start + timedelta(days=1)),
        "ChargeCategory": "Purchase",
        "SkuId": "H200-COMMIT",
        "ServiceName": "GPU Compute Commitments",
        "ChargeDescription": (
            f"Commitment {commitment.gpus} x H200 from {commitment.start} to "
            f"{commitment.end - timedelta(days=1)} at {commitment.rate}/GPU-hour"
        ),
        "PricingUnit": "Commitment",
        "PricingQuantity": Decimal(1),
        "BilledCost": commitment.amount,
        "EffectiveCost": Decimal(0),
        "ListCost": commitment.amount,
        "ContractedCost": commitment.amount,
        "CommitmentDiscountId": commitment.commitment_id,
        "CommitmentDiscountCategory": "Usage",
        # No cluster tag: the purchase is paid once, its cost reaches pools only via amortization.
        "Tags": "{}",
    }


def _charge(month: date, first: date, after: date) -> dict[str, Any]:
    return {
        "BillingAccountId": org.CLOUD_ACCOUNT,
        "BillingPeriodStart": datetime.combine(month, time()),
        "BillingPeriodEnd": datetime.combine(add_months(month, 1), time()),
        "ChargePeriodStart": datetime.combine(first, time()),
        "ChargePeriodEnd": datetime.combine(after, time()),
        "ProviderName": org.CLOUD_PROVIDER,
        "PublisherName": org.CLOUD_PROVIDER,
        "InvoiceIssuerName": org.CLOUD_PROVIDER,
        "InvoiceId": cloud_invoice_id(month),
        "ResourceId": org.CLOUD,
        "ResourceName": f"{org.CLOUD} reserved cluster",
        "ChargeCategory": "Usage",
        "BillingCurrency": "USD",
        "RegionId": org.CLOUD_REGION,
    }


def _costs(amount: Decimal) -> dict[str, Decimal]:
    return {
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "ContractedCost": amount,
    }


def cloud_invoice_id(month: date) -> str:
    """The cloud provider's invoice number for a billing month."""
    return f"NMB-{month:%Y%m}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def focus_csv(rows: Sequence[dict[str, Any]]) -> str:
    """FOCUS CSV text: a header of :data:`CSV_COLUMNS`, columns a row lacks left empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()
