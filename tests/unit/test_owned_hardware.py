"""Owned hardware register -> FOCUS-shaped hourly rows, against hand-computed numbers."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise

import pyarrow.compute as pc

from llmledger.config import Cluster, OwnedAsset
from llmledger.owned_hardware import (
    FOCUS_COLUMNS,
    depreciation_for_hour,
    focus_rows_for_register,
    focus_table_for_register,
)

D = Decimal

# 1,000,000 depreciable over 365 days = 8,760 hours (2025 has no 29 February):
# 1,000,000 / 8,760 = 114.15525114155... -> 114.1552511416 per hour (10 dp).
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


def rows(start, end, clusters=("c1",)):
    return focus_rows_for_register([OTHER, ASSET], clusters, start, end, "acct-1", "OWN")


def test_hand_computed_hour():
    depreciation, energy = rows(datetime(2025, 1, 31, 23), datetime(2025, 2, 1))
    assert set(depreciation) == set(FOCUS_COLUMNS)
    assert depreciation["BilledCost"] == D("114.1552511416")
    assert depreciation["EffectiveCost"] == depreciation["BilledCost"]
    assert (depreciation["ConsumedUnit"], depreciation["ConsumedQuantity"]) == ("GPU-Hours", 8)
    assert (energy["ConsumedUnit"], energy["ConsumedQuantity"]) == ("kWh", D("12.5"))
    assert energy["BilledCost"] == D("1.25")  # 10 kW x 1 h x 1.25 x 0.10
    for row in (depreciation, energy):
        assert row["ChargePeriodStart"] == datetime(2025, 1, 31, 23)
        assert row["ChargePeriodEnd"] == datetime(2025, 2, 1)
        assert row["BillingPeriodStart"] == datetime(2025, 1, 1)
        assert row["BillingPeriodEnd"] == datetime(2025, 2, 1)
        assert row["InvoiceId"] == "OWN-2025-01"
        assert row["ProviderName"] == "Owned" and row["BillingAccountId"] == "acct-1"
        assert json.loads(row["Tags"]) == {"cluster": "c1"}


def test_a_day_is_24_hourly_rows_of_each_kind():
    day = rows(date(2025, 3, 10), date(2025, 3, 11))
    assert len(day) == 48
    assert [r["ChargePeriodStart"].hour for r in day[::2]] == list(range(24))
    depreciation = [r for r in day if r["SkuId"] == "OWNED-GPU-DEPRECIATION"]
    # 24 x 114.1552511416 = 2,739.7260273984; 24 x 8 = 192 GPU-hours; 24 x 1.25 = 30.00 energy
    assert sum(r["BilledCost"] for r in depreciation) == D("2739.7260273984")
    assert sum(r["ConsumedQuantity"] for r in depreciation) == 192
    assert sum(r["BilledCost"] for r in day if r["SkuId"] == "OWNED-ENERGY") == D("30")


def test_whole_life_adds_up_to_cost_minus_salvage_to_the_cent_and_beyond():
    table = focus_table_for_register(
        [OTHER, ASSET], ["c1"], date(2024, 12, 1), date(2026, 1, 1), "acct-1", "OWN"
    )
    life = table.to_pylist()
    depreciation = [r for r in life if r["ConsumedUnit"] == "GPU-Hours"]
    # Nothing before the in-service date; one row per hour of 2025.
    assert len(depreciation) == 8760 and len(life) == 2 * 8760
    # 8,759 hours at 114.1552511416 = 999,885.8447492744; the last hour takes the remainder,
    # 1,000,000 - 999,885.8447492744 = 114.1552507256.
    assert sum(r["BilledCost"] for r in depreciation) == D("1000000")
    assert depreciation[-1]["ChargePeriodStart"] == datetime(2025, 12, 31, 23)
    assert depreciation[-1]["BilledCost"] == D("114.1552507256")
    assert depreciation[-2]["BilledCost"] == D("114.1552511416")
    assert depreciation_for_hour(ASSET, datetime(2025, 12, 31, 23)) == D("114.1552507256")
    assert {r["InvoiceId"] for r in life} == {f"OWN-2025-{m:02d}" for m in range(1, 13)}


def test_month_windows_add_up_to_the_whole_life():
    """The demo asks month by month: the windows' rows are the whole life's, none twice."""
    months = [date(2025, m, 1) for m in range(1, 13)] + [date(2026, 1, 1)]
    total = sum(
        r["BilledCost"]
        for first, after in pairwise(months)
        for r in rows(first, after)
        if r["SkuId"] == "OWNED-GPU-DEPRECIATION"
    )
    assert total == D("1000000")


def test_past_useful_life_keeps_capacity_at_zero_depreciation():
    depreciation, energy = rows(datetime(2026, 1, 1), datetime(2026, 1, 1, 1))
    assert depreciation["BilledCost"] == 0 and depreciation["ConsumedQuantity"] == 8
    assert "fully depreciated" in depreciation["ChargeDescription"]
    assert energy["BilledCost"] == D("1.25")


def test_only_the_requested_clusters_and_window():
    assert rows(date(2025, 3, 1), date(2025, 3, 2), clusters=()) == []
    assert rows(date(2024, 3, 1), date(2024, 3, 2)) == []  # before in service
    both = rows(
        datetime(2025, 3, 1),
        datetime(2025, 3, 1, 1),
        clusters=[Cluster("c2", "owned", "H100", 8), "c1"],
    )
    assert [r["ResourceId"] for r in both] == ["pod-1", "pod-1", "pod-9", "pod-9"]


def test_a_large_register_is_expanded_without_a_python_loop_per_row():
    """A year of 32 eight-GPU servers is 2 x 32 x 8,760 = 560,640 rows, built as a table."""
    fleet = [
        OwnedAsset(
            f"srv-{i:03d}",
            "big",
            date(2025, 1, 1),
            D("300000"),
            48,
            D("0"),
            8,
            "H100",
            D("10.2"),
            D("1.3"),
            D("0.085"),
        )
        for i in range(32)
    ]
    table = focus_table_for_register(fleet, ["big"], date(2025, 1, 1), date(2026, 1, 1), "a", "B")
    assert table.num_rows == 560_640
    # 300,000 / (1,461 days x 24 h = 35,064 h) = 8.5557837098 per server-hour, x 32 x 8,760.
    gpu_rows = table.filter(pc.equal(table["SkuId"], "OWNED-GPU-DEPRECIATION"))
    assert pc.sum(gpu_rows["BilledCost"]).as_py() == D("8.5557837098") * 32 * 8760
    assert pc.sum(gpu_rows["ConsumedQuantity"]).as_py() == 8 * 32 * 8760
