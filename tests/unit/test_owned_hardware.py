"""Owned hardware register -> FOCUS-shaped daily rows, against hand-computed numbers."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from llmledger.config import Cluster, OwnedAsset
from llmledger.owned_hardware import FOCUS_COLUMNS, focus_rows_for_register

D = Decimal

# 1,000,000 depreciable over 365 days (2025 has no 29 February): 2,739.7260273973 per day.
ASSET = OwnedAsset(
    asset_id="pod-1",
    cluster="c1",
    in_service_date=date(2025, 1, 1),
    cost_usd=D("1100000"),
    useful_life_months=12,
    salvage_usd=D("100000"),
    gpus=8,
    gpu_type="H100",
    power_kw=D("10"),
    pue=D("1.25"),
    usd_per_kwh=D("0.10"),
)
OTHER = OwnedAsset(
    "pod-9", "c2", date(2025, 1, 1), D("1"), 1, D("0"), 8, "H100", D("1"), D("1"), D("1")
)


def rows(start: date, end: date, clusters=("c1",)):
    return focus_rows_for_register([OTHER, ASSET], clusters, start, end, "acct-1", "OWN")


def test_hand_computed_day():
    depreciation, energy = rows(date(2025, 1, 31), date(2025, 2, 1))
    assert set(depreciation) == set(FOCUS_COLUMNS)
    assert depreciation["BilledCost"] == D("2739.7260273973")
    assert depreciation["EffectiveCost"] == depreciation["BilledCost"]
    assert (depreciation["ConsumedUnit"], depreciation["ConsumedQuantity"]) == ("GPU-Hours", 192)
    assert (energy["ConsumedUnit"], energy["ConsumedQuantity"]) == ("kWh", D("300"))
    assert energy["BilledCost"] == D("30")  # 10 kW x 24 h x 1.25 x 0.10
    for row in (depreciation, energy):
        assert row["ChargePeriodStart"] == datetime(2025, 1, 31)
        assert row["ChargePeriodEnd"] == datetime(2025, 2, 1)
        assert row["BillingPeriodStart"] == datetime(2025, 1, 1)
        assert row["BillingPeriodEnd"] == datetime(2025, 2, 1)
        assert row["InvoiceId"] == "OWN-2025-01"
        assert row["ProviderName"] == "Owned" and row["BillingAccountId"] == "acct-1"
        assert json.loads(row["Tags"]) == {"cluster": "c1"}


def test_whole_life_adds_up_to_cost_minus_salvage():
    life = rows(date(2024, 12, 1), date(2026, 1, 1))
    depreciation = [r for r in life if r["ConsumedUnit"] == "GPU-Hours"]
    # Nothing before the in-service date; one row per day of 2025.
    assert len(depreciation) == 365 and len(life) == 730
    # To the cent and beyond: 364 days at 2,739.7260273973 = 997,260.2739726172, and the last
    # day takes the remainder, 1,000,000 - 997,260.2739726172 = 2,739.7260273828.
    assert sum(r["BilledCost"] for r in depreciation) == D("1000000")
    assert depreciation[-1]["ChargePeriodStart"] == datetime(2025, 12, 31)
    assert depreciation[-1]["BilledCost"] == D("2739.7260273828")
    assert depreciation[-2]["BilledCost"] == D("2739.7260273973")
    assert {r["InvoiceId"] for r in life} == {f"OWN-2025-{m:02d}" for m in range(1, 13)}


def test_past_useful_life_keeps_capacity_at_zero_depreciation():
    depreciation, energy = rows(date(2026, 1, 1), date(2026, 1, 2))
    assert depreciation["BilledCost"] == 0 and depreciation["ConsumedQuantity"] == 192
    assert energy["BilledCost"] == D("30")


def test_only_the_requested_clusters():
    assert rows(date(2025, 3, 1), date(2025, 3, 2), clusters=()) == []
    both = rows(
        date(2025, 3, 1), date(2025, 3, 2), clusters=[Cluster("c2", "owned", "H100", 8), "c1"]
    )
    assert [r["ResourceId"] for r in both] == ["pod-1", "pod-1", "pod-9", "pod-9"]
