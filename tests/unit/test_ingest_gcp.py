"""Google Cloud detailed billing export (CSV and JSON Lines) into FOCUS rows.

Fixtures written by hand from Google's "Structure of Detailed data export"
(tests/fixtures/billing_formats/gcp_export_2026-01.{csv,jsonl}, the same six records; the
CSV carries BigQuery's "2026-01-05 00:00:00 UTC" timestamps and the repeated fields as JSON
text, the JSONL nested objects, ISO timestamps and a blank line). Billing account
01A2B3-C4D5E6-F7G8H9:

  line record                                   cost   credits        GPU-hours  invoice.month
  2    H100 GPU 01-05 00-01h, 28,800 s         88.16   -30.00 -5.00   8          202601
  3    H100 GPU 01-05 01-02h, 14,400 s         44.08   -15.00         4          202601
  5    Cloud Storage, tags dataset/activity    26.00                             202601
  6    Commitment v1 H100 SKU, 86,400 s       100.00                  0 (a commitment)
  7    tax                                      9.83                             202601
  8    adjustment of line 3's hour             -4.08                  0          202602
  (the JSONL has the same records on lines 1, 2, 4, 5, 6, 7: line 3 is blank)

FOCUS rows: 6 cost rows + 3 credit rows = 9 rows read, 9 loaded.
Invoice 01A2B3-C4D5E6-F7G8H9-202601: 88.16 + 44.08 + 26.00 + 100.00 + 9.83 = 268.07 of cost,
  -50.00 of credits -> billed 218.07. Invoice ...-202602: -4.08. Total 213.99.
GPU-hours: 28,800 / 3,600 = 8 + 14,400 / 3,600 = 4 = 12.
Cluster gcp-a3 (labels): 88.16 - 35.00 + 44.08 - 15.00 - 4.08 = 78.16.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmledger.ingest import gcp, ingest_file
from llmledger.ingest.common import RowError
from llmledger.paths import Home
from llmledger.raw_schema import write_schema_files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "billing_formats"
D = Decimal
ACCOUNT = "01A2B3-C4D5E6-F7G8H9"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    for folder in ("billing", "invoices", "pipeline"):
        (home.landing / folder).mkdir(parents=True)
    write_schema_files(home)
    return home


def _raw(home: Home, sha: str) -> list[dict]:
    return pq.read_table(home.raw_dir("focus") / f"{sha}.parquet").to_pylist()


def _totals(rows: list[dict]) -> dict:
    by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    by_cluster: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        by_invoice[row["invoice_id"]] += row["billed_cost"]
        cluster = json.loads(row["tags"]).get("cluster")
        if cluster:
            by_cluster[cluster] += row["effective_cost"]
    return {
        "invoice": dict(by_invoice),
        "cluster": dict(by_cluster),
        "gpu_hours": sum(r["consumed_quantity"] for r in rows if r["consumed_unit"] == "GPU-Hours"),
        "credits": sum(r["billed_cost"] for r in rows if r["charge_category"] == "Credit"),
        "effective": sum(r["effective_cost"] for r in rows),
    }


EXPECTED = {
    "invoice": {f"{ACCOUNT}-202601": D("218.07"), f"{ACCOUNT}-202602": D("-4.08")},
    "cluster": {"gcp-a3": D("78.16")},
    "gpu_hours": D(12),
    "credits": D("-50.00"),
    "effective": D("213.99"),
}


@pytest.mark.parametrize("name", ["gcp_export_2026-01.csv", "gcp_export_2026-01.jsonl"])
def test_export_totals_by_hand(home: Home, name: str):
    result = ingest_file(home, FIXTURES / name)  # no --kind: recognised from its content
    assert (result.status, result.kind, result.parser) == ("loaded", "focus", gcp.PARSER)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (9, 9, 0)
    rows = _raw(home, result.sha256)
    assert _totals(rows) == EXPECTED
    assert {r["provider"] for r in rows} == {"Google Cloud"}


def test_csv_and_jsonl_give_identical_rows(home: Home):
    def comparable(name: str) -> list[tuple]:
        rows = _raw(home, ingest_file(home, FIXTURES / name).sha256)
        drop = {"_source_file", "_source_sha256", "_source_row", "_ingested_at"}
        return sorted(
            tuple(sorted((k, str(v)) for k, v in r.items() if k not in drop)) for r in rows
        )

    assert comparable("gcp_export_2026-01.csv") == comparable("gcp_export_2026-01.jsonl")


def test_parquet_export_with_nested_structs_gives_the_same_totals(home: Home, tmp_path: Path):
    """The JSONL read into Parquet as BigQuery types it: structs, lists of structs, doubles."""
    import pyarrow.json as pajson

    source = tmp_path / "gcp.jsonl"
    source.write_text((FIXTURES / "gcp_export_2026-01.jsonl").read_text().replace("\n\n", "\n"))
    table = pajson.read_json(source)
    assert pa.types.is_struct(table["sku"].type) and pa.types.is_list(table["credits"].type)
    landing = home.landing / "billing" / "gcp"
    landing.mkdir()
    pq.write_table(table, landing / "gcp_export_2026-01.parquet")
    result = ingest_file(home, landing / "gcp_export_2026-01.parquet")
    assert (result.parser, result.rows_read, result.rows_loaded) == (gcp.PARSER, 9, 9)
    assert _totals(_raw(home, result.sha256)) == EXPECTED


def test_each_credit_is_its_own_row_of_the_same_charge(home: Home):
    rows = _raw(home, ingest_file(home, FIXTURES / "gcp_export_2026-01.csv").sha256)
    line2 = [r for r in rows if r["_source_row"] == 2]
    usage, cud, promo = line2
    assert (usage["charge_category"], usage["billed_cost"]) == ("Usage", D("88.16"))
    assert (usage["consumed_unit"], usage["consumed_quantity"]) == ("GPU-Hours", D(8))
    assert (usage["pricing_unit"], usage["pricing_quantity"]) == ("hour", D(8))
    assert (cud["charge_category"], cud["billed_cost"], cud["effective_cost"]) == (
        "Credit",
        D("-30.00"),
        D("-30.00"),
    )
    assert cud["consumed_quantity"] is None  # a credit adds no GPU capacity
    assert promo["charge_description"] == "Research credits 2026"
    for credit in (cud, promo):
        for column in (
            "charge_period_start",
            "charge_period_end",
            "resource_id",
            "sku_id",
            "tags",
            "invoice_id",
            "billing_period_start",
        ):
            assert credit[column] == usage[column], column
    assert usage["charge_period_start"] == datetime(2026, 1, 5)
    assert usage["billing_period_start"] == datetime(2026, 1, 1)
    assert usage["billing_period_end"] == datetime(2026, 2, 1)
    assert json.loads(usage["tags"]) == {"cluster": "gcp-a3", "team": "research"}
    extras = [json.loads(r["x_columns"]) for r in line2]
    assert [x.get("x_SubRow") for x in extras] == [None, "credit:1", "credit:2"]
    assert extras[1]["x_CreditType"] == "COMMITTED_USAGE_DISCOUNT"
    assert (extras[0]["x_EffectivePrice"], extras[0]["x_PricingUnitQuantity"]) == (
        "11.0200000000",
        "1.0000000000",
    )
    assert json.loads(extras[0]["x_SystemLabels"]) == {
        "compute.googleapis.com/machine_spec": "a3-highgpu-8g"
    }


def test_commitment_tax_and_adjustment_rows(home: Home):
    rows = _raw(home, ingest_file(home, FIXTURES / "gcp_export_2026-01.jsonl").sha256)
    by_sku = {r["sku_id"]: r for r in rows if r["charge_category"] != "Credit"}
    commitment = by_sku["C0FF-EE00-1111"]
    assert (commitment["consumed_unit"], commitment["consumed_quantity"]) == ("seconds", 86400)
    tax = by_sku["TAX-0001"]
    assert (tax["charge_category"], tax["billed_cost"], tax["resource_id"]) == (
        "Tax",
        D("9.83"),
        None,
    )
    adjustment = next(r for r in rows if r["charge_category"] == "Adjustment")
    assert (adjustment["charge_class"], adjustment["invoice_id"]) == (
        "Correction",
        f"{ACCOUNT}-202602",
    )
    # A correction keeps the charge period of what it corrects, in a later billing period.
    assert adjustment["charge_period_start"] == datetime(2026, 1, 5, 1)
    assert adjustment["billing_period_start"] == datetime(2026, 2, 1)
    assert json.loads(json.loads(adjustment["x_columns"])["x_AdjustmentInfo"])["id"] == "adj-9"


def test_bad_records_are_quarantined_naming_line_column_and_value(home: Home, tmp_path: Path):
    lines = (FIXTURES / "gcp_export_2026-01.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    bad_credits = {**first, "credits": [{"name": "x", "amount": "lots"}]}
    bad_month = {**first, "invoice": {"month": "2026-1"}}
    path = tmp_path / "billing" / "gcp_bad.jsonl"
    path.parent.mkdir()
    path.write_text(
        "\n".join([lines[1], json.dumps(bad_credits), json.dumps(bad_month), "not json"]) + "\n"
    )
    result = ingest_file(home, path)
    # line 1: 1 cost + 1 credit row loaded; lines 2-4 one rejected record each.
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 2, 3)
    bad = pq.read_table(home.quarantine_rows / f"{result.sha256}.parquet").to_pylist()
    assert [(q["_source_row"], q["reason_code"], q["column_name"], q["value"]) for q in bad] == [
        (2, "bad_number", "credits[1].amount", "lots"),
        (3, "bad_invoice_month", "invoice.month", "2026-1"),
        (4, "bad_json", None, "not json"),
    ]


def test_gpu_hours_rules():
    def hours(description: str, **usage) -> Decimal | None:
        return gcp.gpu_hours({"sku_description": description, **usage})

    assert hours("Nvidia L4 GPU running in EMEA", usage_amount="7200", usage_unit="seconds") == 2
    assert hours("Nvidia A100 GPU", usage_amount="3", usage_unit="hour") == 3
    assert (
        hours(
            "Nvidia T4 GPU",
            usage_amount="1",
            usage_unit="count",
            usage_amount_in_pricing_units="5",
            usage_pricing_unit="hour",
        )
        == 5
    )
    assert (
        hours("N2 Instance Core running in Americas", usage_amount="3600", usage_unit="seconds")
        is None
    )
    assert (
        hours("Commitment v1: Nvidia H100 GPU", usage_amount="3600", usage_unit="seconds") is None
    )


def test_unknown_cost_type_is_a_row_error():
    with pytest.raises(RowError) as err:
        gcp.convert({"billing_account_id": "a", "cost_type": "mystery", "cost": "1"})
    assert (err.value.column, err.value.value) == ("cost_type", "mystery")
