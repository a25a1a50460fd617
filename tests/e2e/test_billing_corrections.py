"""One correction scenario delivered in the three styles gives the same books.

The scenario (files in tests/fixtures/corrections/<style>/, one billing account per style so
one warehouse holds all three; ACC-R replacement, ACC-D delta, ACC-L ledger):

  January 2026, provider NeoGPU, invoiced in February:
    gpu-node-1  100 GPU-hours  1,000.00   (cluster tag neo-<r|d|l>)
    bucket-1    storage           50.00   (no tags: overhead)
  After January closed, NeoGPU finds it billed 10 GPU-hours too many and under-billed the
  bucket: the true January is gpu-node-1 90 GPU-hours 900.00, bucket-1 55.00.
  February: gpu-node-1 80 GPU-hours 800.00.

  replacement  Jan snapshot exported 02-01 (1,000 + 50), Feb snapshot exported 03-01 (800),
               Jan snapshot exported again 03-02 (900 + 55) superseding the first one. The
               restated snapshot is ingested FIRST: export time, not arrival, decides.
  delta        Jan file (1,000 + 50); Feb file: 800 + Correction rows for January
               gpu -100.00 (-10 GPU-h), bucket +5.00.
  ledger       Jan file (1,000 + 50); Feb file: 800 + Correction rows for January
               gpu -1,000.00 (-100 GPU-h) then +900.00 (90 GPU-h), bucket -50.00 then +55.00.

Every style, per charge period and resource: Jan gpu 900.00 / 90 GPU-h, Jan bucket 55.00,
Feb gpu 800.00 / 80 GPU-h; total 1,755.00; idle cost of the cluster 1,700.00 for 170 GPU-h
(no jobs ran). Invoices as issued: INV-R-2026-01 955.00 (restated), INV-R-2026-02 800.00;
INV-D-2026-01 1,050.00, INV-D-2026-02 800 - 100 + 5 = 705.00; INV-L-2026-01 1,050.00,
INV-L-2026-02 800 - 1,000 + 900 - 50 + 55 = 705.00.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import ingest, warehouse
from llmledger.paths import Home

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "corrections"
D = Decimal
STYLES = {"ACC-R": "replacement", "ACC-D": "delta", "ACC-L": "ledger"}
JAN, FEB = datetime(2026, 1, 1), datetime(2026, 2, 1)


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    home = Home.resolve(tmp_path_factory.mktemp("corrections_home")).ensure()
    replacement = FIXTURE / "replacement"
    ordered = [
        replacement / "neogpu_2026-01_exported_2026-03-02.csv",  # the restatement arrives first
        replacement / "neogpu_2026-01_exported_2026-02-01.csv",
        replacement / "neogpu_2026-02_exported_2026-03-01.csv",
        FIXTURE / "delta",
        FIXTURE / "ledger",
    ]
    for path in ordered:
        results = ingest.ingest_paths(home, [path], kind="billing")
        assert all(r.status == "loaded" and r.rows_quarantined == 0 for r in results)
    warehouse.dbt_build(home, echo=False)
    connection = warehouse.connect_readonly(home)
    yield connection
    connection.close()


def test_same_totals_per_charge_period_and_resource_in_every_style(con):
    rows = con.execute(
        """
        select billing_account_id, charge_period_start, resource_id,
               sum(billed_cost), sum(effective_cost_usd), sum(coalesce(consumed_quantity, 0))
        from fct_billing_charge
        group by all
        """
    ).fetchall()
    by_style: dict[str, set] = {style: set() for style in STYLES.values()}
    for account, period, resource, billed, effective, quantity in rows:
        by_style[STYLES[account]].add((period, resource, billed, effective, quantity))
    expected = {
        (JAN, "gpu-node-1", D("900"), D("900"), D("90")),
        (JAN, "bucket-1", D("55"), D("55"), D("2200")),
        (FEB, "gpu-node-1", D("800"), D("800"), D("80")),
    }
    assert by_style == {style: expected for style in STYLES.values()}


def test_invoices_as_issued_and_reconciled(con):
    totals = dict(
        con.execute(
            "select invoice_id, sum(billed_cost) from fct_billing_charge group by 1"
        ).fetchall()
    )
    assert totals == {
        "INV-R-2026-01": D("955"),
        "INV-R-2026-02": D("800"),
        "INV-D-2026-01": D("1050"),
        "INV-D-2026-02": D("705"),
        "INV-L-2026-01": D("1050"),
        "INV-L-2026-02": D("705"),
    }
    failures = con.execute(
        "select check_name, scope, difference from rpt_reconciliation where not passed"
    ).fetchall()
    assert failures == []
    invoice_checks = con.execute(
        "select count(*) from rpt_reconciliation where check_name = 'billing_invoice_total'"
    ).fetchone()
    assert invoice_checks == (6,)


def test_corrections_keep_their_original_charge_period(con):
    rows = con.execute(
        """
        select billing_account_id, billing_period_start, charge_period_start, count(*)
        from fct_billing_charge where charge_class = 'Correction' group by all order by 1
        """
    ).fetchall()
    assert rows == [("ACC-D", FEB, JAN, 2), ("ACC-L", FEB, JAN, 4)]


def test_superseded_snapshot_is_kept_for_audit_not_counted(con):
    audit = con.execute(
        """
        select billing_account_id, resource_id, billed_cost, is_superseded, superseded_by_file
        from intermediate.int_billing_deliveries_resolved where is_superseded order by resource_id
        """
    ).fetchall()
    assert audit == [
        (
            "ACC-R",
            "bucket-1",
            D("50"),
            True,
            "landing/billing/replacement/neogpu_2026-01_exported_2026-03-02.csv",
        ),
        (
            "ACC-R",
            "gpu-node-1",
            D("1000"),
            True,
            "landing/billing/replacement/neogpu_2026-01_exported_2026-03-02.csv",
        ),
    ]
    delivered, in_force = con.execute(
        """
        select (select count(*) from intermediate.int_billing_deliveries_resolved),
               (select count(*) from fct_billing_charge)
        """
    ).fetchone()
    assert (delivered, in_force) == (17, 15)


def test_pools_see_the_corrected_capacity_and_cost(con):
    idle = con.execute(
        "select cluster, sum(idle_cost_usd), sum(idle_gpu_hours) from fct_idle_cost "
        "group by 1 order by 1"
    ).fetchall()
    assert idle == [(f"neo-{s}", D("1700"), D("170")) for s in ("d", "l", "r")]
    spend = con.execute("select sum(cost_usd) from fct_quarterly_allocation").fetchone()
    assert spend == (D("1755") * 3,)


def test_missing_fx_rate_names_currency_and_date(tmp_path):
    """A EUR bill for 2026-01-03 and 2026-01-09 with config/fx_rates.csv holding only a rate from
    2026-01-05 (1.10): the 2026-01-09 row converts (10.00 EUR -> 11.00 USD), the 2026-01-03 row
    has no rate on or before its date and is an error naming EUR and 2026-01-03, never 1.0."""
    home = Home.resolve(tmp_path / "home").ensure()
    (home.config / "fx_rates.csv").write_text(
        "currency,rate_date,usd_per_unit\nEUR,2026-01-05,1.10\n", encoding="utf-8"
    )
    bill = tmp_path / "eur.csv"
    bill.write_text(
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,InvoiceId\n"
        "2026-01-03T00:00:00Z,2026-01-04T00:00:00Z,5.00,EUR,E-1\n"
        "2026-01-09T00:00:00Z,2026-01-10T00:00:00Z,10.00,EUR,E-1\n",
        encoding="utf-8",
    )
    ingest.ingest_paths(home, [bill], kind="billing")
    warehouse.dbt_build(home, echo=False)
    with warehouse.connect_readonly(home) as con:
        failures = con.execute(
            "select check_name, scope, actual from rpt_reconciliation where not passed"
        ).fetchall()
        converted = con.execute(
            "select billed_cost_usd from fct_billing_charge order by charge_period_start"
        ).fetchall()
    assert failures == [
        ("fx_rate_available", "no EUR rate on or before 2026-01-03 in config/fx_rates.csv", D(1))
    ]
    assert converted == [(None,), (D("11.00"),)]
