"""Golden test: a tiny organisation whose every mart figure is computed by hand.

The organisation (files in tests/fixtures/golden/, ingested and built for real):

Cluster c1, 4 GPUs. One bill, invoice INV-1 (provider Owned):
  - c1 GPU row 2026-01-01 00:00-03:00: 120.00 for 12 GPU-hours  -> 3 pools of 40.00 / 4 GPU-h
  - storage tagged dataset ds-a, activity data.acquisition: 10.00 (direct cost)
  - support contract, no tags: 5.00 (overhead)
  Invoice INV-1 billed total = 135.00.

Jobs (sacct; the .batch/.extern step lines of job 1 are skipped, not counted twice):
  job 1   2 GPUs 00:00-02:00 comment activity=data.selection, dataset ds-a
  job 2   2 GPUs 00:30-02:30 account pretrain (rule -> training.pretrain), comment gen1
  job 3_1 1 GPU  02:00-03:00 wckey gen2 (rule priority 10 -> training.pretrain, gen2)
  job 4   1 GPU  02:00-03:00 no tag, no rule -> untagged

Pool by pool (cost per GPU-hour = 40 / 4 = 10.00):
  00:00  job1 2.0 GPU-h = 20.00, job2 0.5 h x 2 = 1.0 GPU-h = 10.00, idle 1.0 GPU-h = 10.00
  01:00  job1 2.0 = 20.00, job2 2.0 = 20.00, idle 0
  02:00  job2 1.0 = 10.00, job3_1 1.0 = 10.00, job4 1.0 = 10.00, idle 1.0 = 10.00
  -> job1 40.00, job2 40.00, job3_1 10.00, job4 10.00, idle 20.00 (sum 120.00)

Annotation: acme invoice A-1, project P1 -> ds-b: 10 items x 3.00 + fee 2.00 - credit 1.00 = 31.00.

Datasets (units of production, charge = cost x tokens / lifetime tokens):
  ds-a own = job1 40.00 + storage 10.00 = 50.00, lifetime 1000 tokens:
    gen1 300 -> 15.00, gen2 200 -> 10.00, ds-c 100 -> 5.00; amortized 30.00, balance 20.00
  ds-b own = 31.00, lifetime 100: gen2 50 -> 15.50; balance 15.50
  ds-c inherits 5.00, lifetime 800: gen2 400 -> 2.50 (in 2026Q2); balance 2.50
  own total 81.00 = charged to generations 43.00 + balances 38.00

Generations:
  gen1 data 15.00 (ds-a: 12.00 selection + 3.00 acquisition), training 40.00,
       share 15/55 = 0.2727272727; m = 2 -> break-even 0.5
  gen2 data 10.00 + 15.50 + 2.50 = 28.00, training 10.00, share 28/38 = 0.7368421053;
       m = 5 -> break-even 0.8; target 0.80 for both (policy default)

Quarterly allocation 2026Q1 (as incurred): data.selection 40, data.acquisition 10,
data.human 31, training.pretrain gen1 40 / gen2 10, untagged 10, idle 20, overhead 5
-> 166.00 = billing 135.00 + annotation 31.00.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import ingest, warehouse
from llmledger.paths import Home

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
D = Decimal


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory):
    home = Home.resolve(tmp_path_factory.mktemp("golden_home")).ensure()
    for name in ("config", "landing"):
        shutil.copytree(FIXTURE / name, home.root / name, dirs_exist_ok=True)
    results = ingest.ingest_paths(home, [home.landing])
    warehouse.dbt_build(home, echo=False)
    con = warehouse.connect_readonly(home)
    yield home, results, con
    con.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_ingest_accounts_for_every_row(golden):
    _, results, _ = golden
    by_name = {Path(r.source_file).name: r for r in results}
    sacct = by_name["sacct_c1_2026-01.txt"]
    assert (sacct.rows_read, sacct.rows_loaded, sacct.rows_skipped, sacct.rows_quarantined) == (
        6,
        4,
        2,
        0,
    )
    assert by_name["focus_2026-01.csv"].rows_loaded == 3
    assert by_name["A-1.csv"].rows_loaded == 1


def test_allocation_per_job_and_idle(golden):
    _, _, con = golden
    per_job = dict(
        rows(con, "select job_id, sum(allocated_cost_usd) from fct_cost_allocation group by 1")
    )
    assert per_job == {"1": D("40"), "2": D("40"), "3_1": D("10"), "4": D("10")}
    gpu_hours = dict(rows(con, "select job_id, sum(gpu_hours) from fct_cost_allocation group by 1"))
    assert gpu_hours == {"1": D("4"), "2": D("4"), "3_1": D("1"), "4": D("1")}
    idle = rows(
        con,
        "select strftime(hour, '%H'), idle_gpu_hours, idle_cost_usd from fct_idle_cost order by hour",
    )
    assert idle == [("00", D("1"), D("10")), ("02", D("1"), D("10"))]
    activities = dict(
        rows(
            con,
            "select job_id, any_value(activity || '/' || coalesce(model_generation, '-')) from fct_cost_allocation group by 1",
        )
    )
    assert activities == {
        "1": "data.selection/-",
        "2": "training.pretrain/gen1",
        "3_1": "training.pretrain/gen2",
        "4": "untagged/-",
    }


def test_datasets_and_amortization(golden):
    _, _, con = golden
    datasets = {
        r[0]: r[1:]
        for r in rows(
            con,
            "select dataset_version, own_cost_usd, inherited_cost_usd, amortized_usd, balance_usd from dim_dataset",
        )
    }
    assert datasets == {
        "ds-a": (D("50"), D("0"), D("30"), D("20")),
        "ds-b": (D("31"), D("0"), D("15.5"), D("15.5")),
        "ds-c": (D("0"), D("5"), D("2.5"), D("2.5")),
    }
    charges = set(
        rows(
            con,
            "select dataset_version, consumer, consumer_kind, period, amortization_usd from fct_dataset_amortization",
        )
    )
    assert charges == {
        ("ds-a", "gen1", "model_generation", "2026Q1", D("15")),
        ("ds-a", "gen2", "model_generation", "2026Q1", D("10")),
        ("ds-a", "ds-c", "dataset", "2026Q1", D("5")),
        ("ds-b", "gen2", "model_generation", "2026Q1", D("15.5")),
        ("ds-c", "gen2", "model_generation", "2026Q2", D("2.5")),
    }


def test_data_share_per_generation(golden):
    _, _, con = golden
    share = rows(con, "select * exclude (efficiency_multiplier) from fct_data_share order by 1")
    assert share == [
        ("gen1", D("15"), D("40"), D("0.2727272727"), D("0.8"), D("0.5")),
        ("gen2", D("28"), D("10"), D("0.7368421053"), D("0.8"), D("0.8")),
    ]
    gen1 = dict(
        rows(
            con,
            "select activity, cost_usd from fct_model_generation_cost where model_generation = 'gen1'",
        )
    )
    assert gen1 == {
        "data.selection": D("12"),
        "data.acquisition": D("3"),
        "training.pretrain": D("40"),
    }


def test_quarterly_allocation_and_billing(golden):
    _, _, con = golden
    quarterly = set(
        rows(
            con,
            "select quarter, activity, model_generation, cost_usd from fct_quarterly_allocation",
        )
    )
    assert quarterly == {
        ("2026Q1", "data.selection", "unassigned", D("40")),
        ("2026Q1", "data.acquisition", "unassigned", D("10")),
        ("2026Q1", "data.human", "unassigned", D("31")),
        ("2026Q1", "training.pretrain", "gen1", D("40")),
        ("2026Q1", "training.pretrain", "gen2", D("10")),
        ("2026Q1", "untagged", "unassigned", D("10")),
        ("2026Q1", "idle", "unassigned", D("20")),
        ("2026Q1", "overhead", "unassigned", D("5")),
    }
    billing = rows(
        con,
        "select invoice_id, sum(billed_cost), count(*), count(cluster) from fct_billing_charge group by 1",
    )
    assert billing == [("INV-1", D("135"), 3, 1)]
    annotation = rows(
        con,
        "select vendor, invoice_id, dataset_version, unit_type, quarter, quantity, cost_usd, unit_cost_usd from fct_annotation_cost",
    )
    assert annotation == [("acme", "A-1", "ds-b", "item", "2026Q1", D("10"), D("31"), D("3.1"))]


def test_reconciliation_all_passes(golden):
    _, _, con = golden
    assert (
        rows(con, "select check_name, scope, difference from rpt_reconciliation where not passed")
        == []
    )
    checks = {r[0] for r in rows(con, "select distinct check_name from rpt_reconciliation")}
    assert {
        "pool_conservation",
        "billing_invoice_total",
        "annotation_invoice_total",
        "dataset_amortization",
        "data_cost_conservation",
        "spend_fully_attributed",
        "ingest_row_accounting",
        "raw_rows_loaded",
    } <= checks
    spend = rows(
        con,
        "select expected, actual from rpt_reconciliation where check_name = 'spend_fully_attributed'",
    )
    assert spend == [(D("166"), D("166"))]
