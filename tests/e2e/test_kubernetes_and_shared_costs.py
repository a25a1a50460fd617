"""Kubernetes pods (OpenCost JSON) receive GPU pool cost like Slurm jobs; non-GPU shared costs
of a cluster are distributed to its jobs by month. Built for real (ingest + dbt), hand-computed.

Cluster k1 (16 GPUs). Bills (FOCUS):
  GPU      2026-01-05 10:00-12:00  320.00 for 32 GPU-hours -> pools 10:00 and 11:00 of 160.00 /
           16 GPU-hours each (10.00 per GPU-hour)
  storage  2026-01 (cost_type=storage)                17.00 -> shared, k1 January
  cpu      2026-01-31 00:00 - 2026-02-02 00:00 (cost_type=cpu) 3.40 -> one day in each month:
           1.70 k1 January, 1.70 k1 February
  network  2026-01 on k2 (cost_type=network)          9.99 -> k2 has no GPU usage at all

OpenCost (tests/fixtures/ingest/opencost_allocation.json), with tag rules:
  p1  k8s_namespace train-.*                -> evaluation      (pretrain-0's own label wins)
  p5  k8s_annotation llmledger.io/note=*scorer -> data.selection, ds-a
  p10 k8s_label team=data-*                 -> data.transformation (p5 matched first)
  p20 k8s_namespace notebooks               -> evaluation
  p30 account .* (a Slurm rule)             -> training.sft    (never tags a pod)
  10:00  pretrain-0 8 GPU-h (label activity=training.pretrain, gen3) = 80.00
         scorer 3 GPU-h (p5: data.selection, ds-a)                   = 30.00, idle 5 GPU-h = 50.00
  11:00  pretrain-0 4 GPU-h = 40.00; jupyter 0.5 GPU-h (p20: evaluation) = 5.00;
         __unallocated__ 1.5 GPU-h (no labels: untagged) = 15.00; idle 10 GPU-h = 100.00
  OpenCost's __idle__ (5 GPU-h) is skipped: idle comes from the bills, 150.00.

Shared costs, pro rata to January GPU cost allocated on k1 (120 + 30 + 5 + 15 = 170):
  storage 17.00: pretrain-0 17 x 120/170 = 12.00, scorer 3.00, jupyter 0.50, unallocated 1.50
  cpu Jan  1.70: 1.20, 0.30, 0.05, 0.15
  cpu Feb  1.70: no GPU usage on k1 in February -> overhead (unallocated line)
  network  9.99: no GPU usage on k2 -> overhead (unallocated line)

By activity: training.pretrain 120 + 12 + 1.20 = 133.20; data.selection 30 + 3 + 0.30 = 33.30;
evaluation 5 + 0.50 + 0.05 = 5.55; untagged 15 + 1.50 + 0.15 = 16.65; idle 150 (the pools'
unused GPU-hours only); overhead 1.70 + 9.99 = 11.69. Total 350.39 = 320 + 17 + 3.40 + 9.99.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import config, ingest, warehouse
from llmledger.paths import Home

D = Decimal
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "opencost_allocation.json"

HEADER = (
    "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
    "ProviderName,InvoiceId,ResourceId,SkuId,ChargeCategory,ChargeClass,ChargeDescription,"
    "ConsumedUnit,ConsumedQuantity,BilledCost,EffectiveCost,BillingCurrency,Tags"
)
JAN = "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z"
FOCUS = f"""\
{HEADER}
lab,{JAN},2026-01-05T10:00:00Z,2026-01-05T12:00:00Z,Cloud,INV-1,k1-nodes,gpu,Usage,,GPU,GPU-Hours,32,320.00,320.00,USD,"{{""cluster"": ""k1""}}"
lab,{JAN},{JAN},Cloud,INV-1,k1-fs,fs,Usage,,Shared filesystem,GB-Month,1000,17.00,17.00,USD,"{{""cluster"": ""k1"", ""cost_type"": ""storage""}}"
lab,{JAN},2026-01-31T00:00:00Z,2026-02-02T00:00:00Z,Cloud,INV-1,k1-cpu,cpu,Usage,,CPU login nodes,Hours,48,3.40,3.40,USD,"{{""cluster"": ""k1"", ""cost_type"": ""CPU""}}"
lab,{JAN},{JAN},Cloud,INV-1,k2-net,net,Usage,,Egress,GB,100,9.99,9.99,USD,"{{""cluster"": ""k2"", ""cost_type"": ""network""}}"
"""

TABLES = {
    "clusters": [
        {"cluster": "k1", "ownership": "cloud", "gpu_type": "h100", "gpus": 16},
        {"cluster": "k2", "ownership": "cloud", "gpu_type": "h100", "gpus": 8},
    ],
    "model_generations": [{"model_generation": "gen3", "display_name": "Gen 3"}],
    "datasets": [
        {
            "dataset_version": "ds-a",
            "dataset_name": "A",
            "kind": "filtered",
            "tokens": 100,
            "expected_lifetime_tokens": 100,
        }
    ],
    "tag_mapping": [
        {"priority": 1, "field": "k8s_namespace", "pattern": "train-.*", "activity": "evaluation"},
        {
            "priority": 5,
            "field": "k8s_annotation",
            "pattern": "llmledger.io/note=*scorer",
            "activity": "data.selection",
            "dataset_version": "ds-a",
        },
        {
            "priority": 10,
            "field": "k8s_label",
            "pattern": "team=data-*",
            "activity": "data.transformation",
        },
        {
            "priority": 20,
            "field": "k8s_namespace",
            "pattern": "notebooks",
            "activity": "evaluation",
        },
        {"priority": 30, "field": "account", "pattern": ".*", "activity": "training.sft"},
    ],
}


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    home = Home.resolve(tmp_path_factory.mktemp("k8s_home")).ensure()
    (home.landing / "billing" / "cloud").mkdir(parents=True, exist_ok=True)
    (home.landing / "billing" / "cloud" / "focus.csv").write_text(FOCUS)
    (home.landing / "pipeline" / "k8s").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE, home.landing / "pipeline" / "k8s" / "allocation_2026-01-05.json")
    config.write_config(home, TABLES)
    results = ingest.ingest_paths(home, [home.landing])
    assert {r.kind for r in results} == {"focus", "opencost_allocation"}
    warehouse.dbt_build(home, echo=False)
    connection = warehouse.connect_readonly(home)
    yield connection
    connection.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_every_reconciliation_check_passes(con):
    assert rows(con, "select check_name, scope from rpt_reconciliation where not passed") == []
    shared = rows(
        con,
        "select scope, expected, actual from rpt_reconciliation "
        "where check_name = 'shared_cost_conservation' order by scope",
    )
    assert shared == [
        ("k1 cpu", D("3.40"), D("3.40")),
        ("k1 storage", D("17.00"), D("17.00")),
        ("k2 network", D("9.99"), D("9.99")),
    ]
    (accounting,) = rows(
        con,
        "select expected, actual from rpt_reconciliation where check_name = 'raw_rows_loaded' "
        "and scope like '%allocation_2026-01-05.json%'",
    )
    assert accounting == (D(5), D(5))


def test_pods_get_pool_cost_by_gpu_hours_like_jobs(con):
    allocated = rows(
        con,
        "select job_key, job_id, strftime(hour, '%H'), gpu_hours, allocated_cost_usd, activity,"
        " model_generation, dataset_version from fct_cost_allocation order by hour, job_key",
    )
    assert allocated == [
        ("k8s/k1/data-filter/scorer-7f9c", "data-filter/scorer-7f9c", "10", D(3), D(30),
         "data.selection", None, "ds-a"),
        ("k8s/k1/train-gen3/pretrain-0", "train-gen3/pretrain-0", "10", D(8), D(80),
         "training.pretrain", "gen3", None),
        ("k8s/k1/__unallocated__", "__unallocated__", "11", D("1.5"), D(15), "untagged", None,
         None),
        ("k8s/k1/notebooks/jupyter-alice", "notebooks/jupyter-alice", "11", D("0.5"), D(5),
         "evaluation", None, None),
        ("k8s/k1/train-gen3/pretrain-0", "train-gen3/pretrain-0", "11", D(4), D(40),
         "training.pretrain", "gen3", None),
    ]  # fmt: skip
    # The storage and CPU bills stay out of the GPU pools: each hour's pool is the GPU bill only.
    assert rows(con, "select sum(idle_cost_usd), sum(idle_gpu_hours) from fct_idle_cost") == [
        (D(150), D(15))
    ]


def test_tag_precedence_for_pods(con):
    tagged = rows(
        con,
        "select distinct job_key, workload, tag_source, tag_problem from intermediate.int_jobs_tagged"
        " order by job_key",
    )
    assert tagged == [
        ("k8s/k1/__unallocated__", "k8s_pod", "none", "no label, annotation or rule matched"),
        ("k8s/k1/data-filter/scorer-7f9c", "k8s_pod", "rule:5", None),
        ("k8s/k1/notebooks/jupyter-alice", "k8s_pod", "rule:20", None),
        ("k8s/k1/train-gen3/pretrain-0", "k8s_pod", "label", None),
    ]


def test_shared_costs_follow_allocated_gpu_cost_and_unused_ones_stay_visible(con):
    storage = rows(
        con,
        "select job_key, cost_usd from intermediate.int_shared_costs_distributed "
        "where shared_cost_type = 'storage' order by job_key",
    )
    assert storage == [
        ("k8s/k1/__unallocated__", D("1.50")),
        ("k8s/k1/data-filter/scorer-7f9c", D("3.00")),
        ("k8s/k1/notebooks/jupyter-alice", D("0.50")),
        ("k8s/k1/train-gen3/pretrain-0", D("12.00")),
    ]
    unallocated = rows(
        con,
        "select cluster, strftime(month, '%Y-%m'), shared_cost_type, activity, cost_usd "
        "from intermediate.int_shared_costs_distributed where row_kind = 'unallocated' "
        "order by cluster, month",
    )
    assert unallocated == [
        ("k1", "2026-02", "cpu", "overhead", D("1.70")),
        ("k2", "2026-01", "network", "overhead", D("9.99")),
    ]
    by_activity = dict(
        rows(con, "select activity, sum(cost_usd) from fct_quarterly_allocation group by 1")
    )
    assert by_activity == {
        "training.pretrain": D("133.20"),
        "data.selection": D("33.30"),
        "evaluation": D("5.55"),
        "untagged": D("16.65"),
        "idle": D("150"),
        "overhead": D("11.69"),
    }
    assert sum(by_activity.values()) == D("350.39")
