"""Three differently shaped vendors, through ingest and dbt, to the cent.

Fixture: tests/fixtures/vendors (mappings in config/vendors/, FX EUR 1.08, GBP 1.27).

crowdmint (per-task marketplace, ';' CSV, decimal comma, EUR, +20 % platform fee on pay):
  CM-1001  SFT-GEN   400 x 2.50 = 1000 + 20 % = 1200.00 EUR -> 1296.00 USD (task)
           PREF-CHAT 1200 x 0.35 = 420 + 84    =  504.00 EUR ->  544.32 USD (comparison)
           PILOT-X   10 x 1.25 = 12.50 + 2.50  =   15.00 EUR ->   16.20 USD (unmapped: untagged)
           stated total 1719.00 EUR = 1200 + 504 + 15
  CN-1001-1 credit note on CM-1001: SFT-GEN 40 x 2.50 + 20 % = -120.00 EUR -> -129.60 USD
tessera (managed workforce, JSON, USD): TS-2026-01 revision 0 (SFT 300 examples) is
  superseded by revision 1:
           PREF-CHAT 5000 comparisons x 1.20 = 6000.00; discount -300.00
           SFT-GEN   280 examples x 18.50   = 5180.00; stated total 10880.00
  TS-2026-02 PREF-CHAT 1000 x 1.20 = 1200.00 + minimum top-up 1300.00 = 2500.00
quillhours (hourly timesheet, GBP, VAT 20 % per row, TOTAL row 3219.00):
           RED-TEAM (32.5 + 20) h: 1462.50 + 292.50 + 900 + 180 = 2835.00 GBP -> 3600.45 USD
           SFT-GEN 8 h x 40 = 320 + 64 = 384.00 GBP -> 487.68 USD
Annotation total: 1726.92 + 13380.00 + 4088.13 = 19195.05 USD.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import ingest, warehouse
from llmledger.paths import Home

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
D = Decimal


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    home = Home.resolve(tmp_path_factory.mktemp("vendors_home")).ensure()
    for name in ("config", "landing"):
        shutil.copytree(FIXTURE / name, home.root / name, dirs_exist_ok=True)
    results = ingest.ingest_paths(home, [home.landing])
    warehouse.dbt_build(home, echo=False)
    con = warehouse.connect_readonly(home)
    yield results, con
    con.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_every_file_loads_and_both_tessera_revisions_are_kept(built):
    results, con = built
    loaded = {Path(r.source_file).name: (r.rows_loaded, r.rows_skipped) for r in results}
    assert loaded == {
        "CM-1001.csv": (3, 0),
        "CN-1001-1.csv": (1, 0),
        "timesheet_2026-01.csv": (3, 1),  # the TOTAL row is not a cost line
        "TS-2026-01.json": (3, 0),
        "TS-2026-01_rev1.json": (3, 0),
        "TS-2026-02.json": (2, 0),
    }
    versions = rows(
        con,
        "select revision, is_current, amount from intermediate.int_annotation_invoice_versions "
        "where invoice_id = 'TS-2026-01' order by revision",
    )
    assert versions == [(0, False, D("11250")), (1, True, D("10880"))]


def test_cost_per_vendor_invoice(built):
    _, con = built
    per_invoice = dict(
        rows(
            con,
            "select vendor || ' ' || invoice_id, sum(cost_usd) from fct_annotation_cost group by 1",
        )
    )
    assert per_invoice == {
        "crowdmint CM-1001": D("1856.52"),
        "crowdmint CN-1001-1": D("-129.60"),
        "tessera TS-2026-01": D("10880"),  # revision 1 only: no double count
        "tessera TS-2026-02": D("2500"),
        "quillhours QH-0142": D("4088.13"),
    }
    [(total,)] = rows(con, "select sum(cost_usd) from fct_quarterly_allocation")
    assert total == D("19195.05")


def test_unmapped_project_lands_in_untagged_with_its_cost(built):
    _, con = built
    assert rows(
        con,
        "select dataset_version, cost_usd from fct_annotation_cost where invoice_id = 'CM-1001' "
        "and dataset_version = 'unmapped'",
    ) == [("unmapped", D("16.20"))]
    assert rows(
        con,
        "select cost_usd from fct_quarterly_allocation where activity = 'untagged'",
    ) == [(D("16.20"),)]


def test_unit_economics(built):
    _, con = built
    unit = {
        (v, d, u): (q, c, uc)
        for v, d, u, q, c, uc in rows(
            con,
            "select vendor, dataset_version, unit_type, quantity, cost_usd, unit_cost_usd "
            "from fct_annotation_unit_cost where quarter = '2026Q1'",
        )
    }
    # per comparison, the invoice-level lines spread onto the comparisons they concern (both
    # name PREF-CHAT, so the SFT line of TS-2026-01 receives nothing):
    # TS-2026-01: 6000.00 - 300.00 discount = 5700.00 for 5000; TS-2026-02: 1200.00 + 1300.00
    # minimum = 2500.00 for 1000 -> 8200.00 / 6000 = 1.3666666667
    assert unit["tessera", "human-pref-v1", "comparison"] == (
        D(6000),
        D(8200),
        D("1.3666666667"),
    )
    assert ("tessera", "human-pref-v1", "discount") not in unit
    assert ("tessera", "human-pref-v1", "minimum") not in unit
    [(line_cost, spread)] = rows(
        con,
        "select line_cost_usd, allocated_overhead_usd from fct_annotation_unit_cost "
        "where vendor = 'tessera' and unit_type = 'comparison'",
    )
    assert (line_cost, spread) == (D(7200), D(1000))  # -300 + 1300
    # per SFT example: 280 examples, 5180.00 -> 18.50
    assert unit["tessera", "human-sft-v1", "example"] == (D(280), D(5180), D("18.5"))
    # per task net of the credit note: 400 - 40 tasks, 1296.00 - 129.60 = 1166.40 -> 3.24
    assert unit["crowdmint", "human-sft-v1", "task"] == (D(360), D("1166.40"), D("3.24"))
    # per annotator hour: 52.5 h, 3600.45 USD -> 68.58
    assert unit["quillhours", "redteam-v1", "hour"] == (D("52.5"), D("3600.45"), D("68.58"))


def test_human_data_cost_reaches_datasets_and_reconciles(built):
    _, con = built
    own = dict(rows(con, "select dataset_version, own_cost_usd from dim_dataset"))
    # sft: 1296.00 - 129.60 + 5180.00 + 487.68; pref: 544.32 + 6000 - 300 + 1200 + 1300
    assert own == {
        "human-sft-v1": D("6834.08"),
        "human-pref-v1": D("8744.32"),
        "redteam-v1": D("3600.45"),
    }
    assert rows(con, "select check_name, scope from rpt_reconciliation where not passed") == []
    stated = rows(
        con,
        "select scope, expected from rpt_reconciliation where check_name = "
        "'annotation_stated_total' order by scope",
    )
    assert stated == [
        ("crowdmint CM-1001 EUR", D("1719")),
        ("crowdmint CN-1001-1 EUR", D("-120")),
        ("quillhours QH-0142 GBP", D("3219")),
        ("tessera TS-2026-01 USD", D("10880")),
        ("tessera TS-2026-02 USD", D("2500")),
    ]
