"""A GCP export and a FOCUS bill through the warehouse, clusters assigned by every route.

Landing (the GCP fixture is tests/fixtures/billing_formats/gcp_export_2026-01.jsonl; its
totals are worked out in tests/unit/test_ingest_gcp.py), plus one FOCUS bill written here,
provider Acme, invoice INV-9:

  resource  tags              GPU-hours  cost   cluster by                     cluster
  srv-1     -                 8          10.00  register (asset srv-1)          own-1
  node-x    team=x            4          20.00  nothing -> unmapped_gpu_charges  -
  vm-7      pool=blue         2           6.00  rule 20 (tag pool ~ blu.*)      blue-c
  srv-2     cluster=tagged-c  1           3.00  the cluster tag                 tagged-c

config/cluster_mapping.csv:
  10 resource_id glob //compute.googleapis.com/projects/lab-train/*  -> a3-prod
  20 tag pool      regex blu.*                                        -> blue-c
The GCP GPU rows are tagged cluster=gcp-a3, but rule 10 comes first: its six rows (two usage
rows, three credits, one adjustment) go to a3-prod, 88.16 - 35.00 + 44.08 - 15.00 - 4.08 =
78.16 for 12 GPU-hours. The GCP commitment and tax rows have no resource and no cluster (and
no GPU-hours), the storage row is a direct cost (dataset tag).

Invoices: 01A2B3-C4D5E6-F7G8H9-202601 218.07, -202602 -4.08, INV-9 39.00.
Reconciliation: every check passes except the warning unmapped_gpu_charges "Acme node-x" 20.00.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import config, ingest, warehouse
from llmledger.paths import Home

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "billing_formats"
D = Decimal
ACCOUNT = "01A2B3-C4D5E6-F7G8H9"

FOCUS = """\
BillingAccountId,ChargePeriodStart,ChargePeriodEnd,BillingPeriodStart,ProviderName,InvoiceId,\
ResourceId,ChargeCategory,ConsumedUnit,ConsumedQuantity,BilledCost,BillingCurrency,Tags
A-1,2026-01-05T00:00:00Z,2026-01-05T01:00:00Z,2026-01-01T00:00:00Z,Acme,INV-9,srv-1,Usage,\
GPU-Hours,8,10.00,USD,{}
A-1,2026-01-05T00:00:00Z,2026-01-05T01:00:00Z,2026-01-01T00:00:00Z,Acme,INV-9,node-x,Usage,\
GPU-Hours,4,20.00,USD,"{""team"":""x""}"
A-1,2026-01-05T00:00:00Z,2026-01-05T01:00:00Z,2026-01-01T00:00:00Z,Acme,INV-9,vm-7,Usage,\
GPU-Hours,2,6.00,USD,"{""pool"":""blue""}"
A-1,2026-01-05T00:00:00Z,2026-01-05T01:00:00Z,2026-01-01T00:00:00Z,Acme,INV-9,srv-2,Usage,\
GPU-Hours,1,3.00,USD,"{""cluster"":""tagged-c""}"
"""


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    home = Home.resolve(tmp_path_factory.mktemp("gcp_home")).ensure()
    config.write_config(
        home,
        {
            "clusters": [
                {"cluster": c, "ownership": o, "gpu_type": "h100", "gpus": g}
                for c, o, g in (
                    ("a3-prod", "cloud", 8),
                    ("own-1", "owned", 8),
                    ("blue-c", "cloud", 2),
                    ("tagged-c", "cloud", 1),
                    ("gcp-a3", "cloud", 8),
                )
            ],
            "owned_hardware": [
                {
                    "asset_id": "srv-1",
                    "cluster": "own-1",
                    "in_service_date": "2025-01-01",
                    "cost_usd": "100000",
                    "useful_life_months": 48,
                    "salvage_usd": "0",
                    "gpus": 8,
                    "gpu_type": "H100",
                    "power_kw": "10",
                    "pue": "1.2",
                    "usd_per_kwh": "0.1",
                }
            ],
            "cluster_mapping": [
                {
                    "priority": 10,
                    "match": "resource_id",
                    "pattern": "//compute.googleapis.com/projects/lab-train/*",
                    "syntax": "glob",
                    "cluster": "a3-prod",
                },
                {
                    "priority": 20,
                    "match": "tag",
                    "tag_key": "pool",
                    "pattern": "blu.*",
                    "cluster": "blue-c",
                },
            ],
        },
    )
    (home.landing / "billing" / "gcp").mkdir(parents=True)
    shutil.copy(FIXTURES / "gcp_export_2026-01.jsonl", home.landing / "billing" / "gcp")
    (home.landing / "billing" / "acme").mkdir(parents=True)
    (home.landing / "billing" / "acme" / "acme_2026-01.csv").write_text(FOCUS)
    results = ingest.ingest_paths(home, [home.landing])
    assert [(r.status, r.rows_quarantined) for r in results] == [("loaded", 0)] * 2
    warehouse.dbt_build(home, echo=False)
    connection = warehouse.connect_readonly(home)
    yield connection
    connection.close()


def test_billed_cost_per_invoice(con):
    got = dict(
        con.execute(
            "select invoice_id, sum(billed_cost) from fct_billing_charge group by 1"
        ).fetchall()
    )
    assert got == {
        f"{ACCOUNT}-202601": D("218.07"),
        f"{ACCOUNT}-202602": D("-4.08"),
        "INV-9": D("39.00"),
    }
    # The GCP export is 6 records, 9 charges: each credit once, with its own charge key.
    assert con.execute(
        "select count(*), count(distinct charge_key) from fct_billing_charge "
        "where provider = 'Google Cloud'"
    ).fetchall() == [(9, 9)]


def test_cluster_precedence(con):
    got = con.execute(
        "select resource_id, cluster, cluster_source, count(*), sum(effective_cost) "
        "from fct_billing_charge where consumed_unit = 'GPU-Hours' or charge_category = 'Credit' "
        "or charge_class = 'Correction' group by all order by 1, 2"
    ).fetchall()
    gcp_vm = "//compute.googleapis.com/projects/lab-train/zones/us-central1-a/instances/123"
    assert got == [
        (gcp_vm, "a3-prod", "rule 10", 6, D("78.16")),
        ("node-x", None, None, 1, D("20.00")),
        ("srv-1", "own-1", "register", 1, D("10.00")),
        ("srv-2", "tagged-c", "tag", 1, D("3.00")),
        ("vm-7", "blue-c", "rule 20", 1, D("6.00")),
    ]


def test_pools_line_up_with_the_clusters(con):
    pools = con.execute(
        "select cluster, sum(idle_cost_usd), sum(idle_gpu_hours) from fct_idle_cost group by 1 "
        "order by 1"
    ).fetchall()
    # No jobs: each pool's whole cost is idle, capacity = the GPU-hours its bills paid for.
    assert pools == [
        ("a3-prod", D("78.16"), D(12)),
        ("blue-c", D("6.00"), D(2)),
        ("own-1", D("10.00"), D(8)),
        ("tagged-c", D("3.00"), D(1)),
    ]


def test_unmapped_gpu_charges_are_a_visible_warning(con):
    failing = con.execute(
        "select check_name, severity, scope, actual from rpt_reconciliation where not passed"
    ).fetchall()
    assert failing == [("unmapped_gpu_charges", "warn", "Acme node-x", D("20.00"))]
