"""The warehouse builds on whatever has arrived, and re-delivery or bad rows change nothing
they should not.

Uses the golden organisation's files (tests/fixtures/golden, figures in test_golden.py).
"""

from __future__ import annotations

import shutil
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from golden_org import GOLDEN_FOCUS, TOTALS, golden_home, query
from llmledger import ingest, warehouse
from llmledger.paths import Home

BILLING = GOLDEN_FOCUS
D = Decimal


def test_fresh_home_builds_empty_marts(tmp_path):
    home = Home.resolve(tmp_path / "home").ensure()
    warehouse.dbt_build(home, echo=False)
    assert query(home, "select count(*) from fct_data_share") == [(0,)]
    assert query(home, "select count(*) from fct_cost_allocation") == [(0,)]
    assert query(home, "select count(*) from rpt_reconciliation where not passed") == [(0,)]


def test_billing_alone_lands_as_idle_and_overhead(tmp_path):
    """Only the bill has arrived (no jobs, no config): the 120.00 GPU pool cost is idle,
    the tagged storage is data.acquisition, the support row overhead. Nothing fails."""
    home = Home.resolve(tmp_path / "home").ensure()
    ingest.ingest_paths(home, [BILLING], kind="billing")
    warehouse.dbt_build(home, echo=False)
    assert query(home, "select sum(idle_cost_usd), sum(idle_gpu_hours) from fct_idle_cost") == [
        (D("120"), D("12"))
    ]
    assert set(query(home, "select activity, cost_usd from fct_quarterly_allocation")) == {
        ("idle", D("120")),
        ("data.acquisition", D("10")),
        ("overhead", D("5")),
    }
    assert query(home, "select count(*) from rpt_reconciliation where not passed") == [(0,)]


@pytest.fixture(name="golden_home")
def built_golden_home(tmp_path) -> Home:
    home = golden_home(tmp_path / "home")
    ingest.ingest_paths(home, [home.landing])
    warehouse.dbt_build(home, echo=False)
    return home


def test_same_file_delivered_twice_changes_nothing(golden_home):
    home = golden_home
    before = query(home, TOTALS)
    assert before == [(D("135"), 3, D("100"), D("31"), D("43"))]
    raw_before = sorted(p.name for p in home.raw.rglob("*.parquet"))

    # The same bytes arrive again under another name (a re-sent export), and the original
    # is ingested again explicitly: both are recognised by content and skipped.
    again = home.landing / "billing" / "owned" / "focus_2026-01 (resent).csv"
    shutil.copyfile(BILLING, again)
    results = ingest.ingest_paths(home, [home.landing, BILLING])
    assert results and {r.status for r in results} == {"already_ingested"}
    assert sorted(p.name for p in home.raw.rglob("*.parquet")) == raw_before

    warehouse.dbt_build(home, echo=False)
    assert query(home, TOTALS) == before
    assert query(home, "select count(*) from rpt_reconciliation where not passed") == [(0,)]


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_still_count(golden_home):
    home = golden_home
    bad = home.landing / "billing" / "owned" / "focus_2026-02.csv"
    header = BILLING.read_text().splitlines()[0]
    bad.write_text(
        "\n".join(
            [
                header,
                # good: 2 GPU-hours for 20.00 in one hour on c1
                'lab-1,2026-02-01T00:00:00Z,2026-03-01T00:00:00Z,2026-02-01T00:00:00Z,2026-02-01T01:00:00Z,Owned,INV-2,c1-nodes,gpu-h100,Usage,,GPU,GPU-Hours,2,20.00,20.00,USD,"{""cluster"": ""c1""}"',
                # bad cost
                'lab-1,2026-02-01T00:00:00Z,2026-03-01T00:00:00Z,2026-02-01T01:00:00Z,2026-02-01T02:00:00Z,Owned,INV-2,c1-nodes,gpu-h100,Usage,,GPU,GPU-Hours,2,twenty,20.00,USD,"{""cluster"": ""c1""}"',
                # bad date
                'lab-1,2026-02-01T00:00:00Z,2026-03-01T00:00:00Z,2026-02-31T01:00:00Z,2026-02-01T02:00:00Z,Owned,INV-2,c1-nodes,gpu-h100,Usage,,GPU,GPU-Hours,2,20.00,20.00,USD,"{""cluster"": ""c1""}"',
            ]
        )
        + "\n"
    )
    (result,) = ingest.ingest_paths(home, [bad])
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 1, 2)
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_skipped

    quarantined = pq.read_table(home.quarantine_rows / f"{result.sha256}.parquet").to_pylist()
    by_line = {row["_source_row"]: row for row in quarantined}
    assert set(by_line) == {3, 4}
    assert by_line[3]["column_name"] == "BilledCost" and by_line[3]["value"] == "twenty"
    assert (
        by_line[4]["column_name"] == "ChargePeriodStart"
        and by_line[4]["value"] == "2026-02-31T01:00:00Z"
    )
    for row in quarantined:
        assert row["reason_code"] and row["message"] and row["raw_text"].startswith("lab-1,")

    warehouse.dbt_build(home, echo=False)
    assert query(
        home, "select sum(billed_cost) from fct_billing_charge where invoice_id = 'INV-2'"
    ) == [(D("20"),)]
    assert query(home, "select count(*) from rpt_reconciliation where not passed") == [(0,)]
