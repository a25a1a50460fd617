"""Billing files that are not FOCUS CSV: gzip, Parquet, AWS CUR 2.0 and a neocloud invoice.

Expected numbers are computed by hand from the fixture rows (tests/fixtures/billing_formats/).

AWS CUR 2.0 (cur2_2026-01.csv; columns from the AWS Data Exports CUR 2.0 table dictionary),
one month, invoice EUINUS26-1:
  line item type            unblended (billed)   amortized (effective)       GPU-hours
  Usage p5 10 h                  983.20             983.20                 10 x 8 = 80
  SavingsPlanCoveredUsage       9832.00            6000.00 (SP eff. cost)  100 x 8 = 800
  SavingsPlanNegation          -9832.00               0
  SavingsPlanRecurringFee       7000.00            7000 - 6000 used = 1000 (unused)
  DiscountedUsage g5 744 h         0                450.00 (RI eff. cost)  744 x 1 = 744
  RIFee                          400.00               0 (nothing unused)
  Fee (RI up-front)              600.00               0 (amortized in usage)
  Tax                            120.00             120.00
  total                         9103.20            8553.20                  1624

Neocloud (gpucloud_invoice_2026-01.csv through gpucloud.yaml), GPU-hours x rate per day:
  node-17 01-05 192 x 2.49 = 478.08; node-17 01-06 180.5 x 2.49 = 449.445;
  node-18 01-07 (US date 01/07/2026) 24 x 2.49 = 59.76;
  node-19 01-07 says 99.99 but 24 x 2.49 = 59.76 -> quarantined amount_mismatch (line 5);
  node-19 01-08 gpu_hours "lots" -> quarantined bad_number (line 6).
  Loaded 3 rows: billed 987.285, 396.5 GPU-hours, tagged cluster neo-h100.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from llmledger.ingest import ingest_file
from llmledger.paths import Home
from llmledger.raw_schema import write_schema_files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "billing_formats"
SAMPLE = next(
    parent
    / "shared/fixtures/focus/commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv"
    for parent in Path(__file__).resolve().parents[2:]
    if (parent / "shared/fixtures/focus").is_dir()
)
D = Decimal


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    for folder in ("billing", "invoices", "pipeline"):
        (home.landing / folder).mkdir(parents=True)
    write_schema_files(home)
    return home


def _raw(home: Home, sha: str) -> list[dict]:
    return pq.read_table(home.raw_dir("focus") / f"{sha}.parquet").to_pylist()


def _quarantined(home: Home, sha: str) -> list[dict]:
    path = home.quarantine_rows / f"{sha}.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []


def test_gzipped_focus_csv_gives_the_same_rows(home: Home, tmp_path: Path):
    """commitment_discount_usage_scenario_4: 2 rows, billed 0.50, effective 1.50."""
    packed = tmp_path / "scenario_4.csv.gz"
    packed.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    result = ingest_file(home, packed)  # recognised from the header inside the gzip
    assert (result.status, result.kind, result.rows_loaded) == ("loaded", "focus", 2)
    rows = _raw(home, result.sha256)
    assert sum(r["billed_cost"] for r in rows) == D("0.50")
    assert sum(r["effective_cost"] for r in rows) == D("1.50")
    assert [r["_source_row"] for r in rows] == [2, 3]


def test_damaged_gzip_is_quarantined_as_a_file(home: Home, tmp_path: Path):
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(b"ChargePeriodStart,BilledCost\n")[:12])
    result = ingest_file(home, broken, kind="billing")
    assert result.status == "file_quarantined"
    assert result.message.startswith("bad_gzip")


def test_focus_parquet_with_typed_columns(home: Home, tmp_path: Path):
    """Two typed rows (tz-aware timestamps, decimals, Tags as a map) and one bad row."""
    table = pa.table(
        {
            "ChargePeriodStart": pa.array(
                [datetime(2026, 1, 5, 10), datetime(2026, 1, 5, 11), None],
                pa.timestamp("us", tz="UTC"),
            ),
            "ChargePeriodEnd": pa.array(
                [datetime(2026, 1, 5, 11), datetime(2026, 1, 5, 12), datetime(2026, 1, 5, 12)],
                pa.timestamp("us", tz="UTC"),
            ),
            "BilledCost": pa.array(
                [D("12.3456789012"), D("0.0000000001"), D(1)], pa.decimal128(20, 10)
            ),
            "EffectiveCost": pa.array([10.25, None, 1.0], pa.float64()),
            "ConsumedQuantity": pa.array([8, 8, 8], pa.int64()),
            "ConsumedUnit": ["GPU-Hours"] * 3,
            "Tags": pa.array([[("cluster", "gpu-a")], [], None], pa.map_(pa.string(), pa.string())),
            "x_Spot": [True, False, None],
        }
    )
    path = tmp_path / "focus_export.parquet"
    pq.write_table(table, path)
    result = ingest_file(home, path)
    assert (result.kind, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "focus",
        3,
        2,
        1,
    )
    first, second = _raw(home, result.sha256)
    assert first["charge_period_start"] == datetime(2026, 1, 5, 10)
    assert first["billed_cost"] == D("12.3456789012")
    assert first["effective_cost"] == D("10.25")  # the double 10.25, read back exactly
    assert first["consumed_quantity"] == D(8)
    assert first["tags"] == '{"cluster":"gpu-a"}'
    assert json.loads(first["x_columns"]) == {"x_Spot": "true"}
    assert second["billed_cost"] == D("0.0000000001")
    assert second["effective_cost"] is None
    assert [r["_source_row"] for r in (first, second)] == [1, 2]  # record numbers
    [bad] = _quarantined(home, result.sha256)
    assert (bad["_source_row"], bad["reason_code"], bad["column_name"]) == (
        3,
        "missing_required",
        "ChargePeriodStart",
    )
    assert json.loads(bad["raw_text"])["BilledCost"] == "1.0000000000"


def _check_cur(home: Home, result) -> None:
    assert (result.status, result.parser, result.rows_loaded, result.rows_quarantined) == (
        "loaded",
        "aws_cur2",
        8,
        0,
    )
    rows = _raw(home, result.sha256)
    assert sum(r["billed_cost"] for r in rows) == D("9103.20")
    assert sum(r["effective_cost"] for r in rows) == D("8553.20")
    gpu_hours = sum(r["consumed_quantity"] for r in rows if r["consumed_unit"] == "GPU-Hours")
    assert gpu_hours == D(1624)
    by_type = {r["charge_description"]: r for r in rows}
    fee = by_type["Savings Plan monthly commitment"]
    assert (fee["charge_category"], fee["commitment_discount_status"], fee["effective_cost"]) == (
        "Purchase",
        "Unused",
        D(1000),
    )
    covered = by_type["p5.48xlarge covered by Savings Plan"]
    assert covered["commitment_discount_status"] == "Used"
    assert covered["tags"] == '{"cluster":"aws-p5"}'  # user_ prefix of CUR 2.0 tags removed
    assert {r["provider"] for r in rows} == {"AWS"}
    assert {r["invoice_id"] for r in rows} == {"EUINUS26-1"}
    assert covered["charge_period_end"] == datetime(2026, 1, 14, 4)


def test_aws_cur2_csv(home: Home):
    _check_cur(home, ingest_file(home, FIXTURES / "cur2_2026-01.csv"))


def test_aws_cur2_parquet(home: Home, tmp_path: Path):
    """The same CUR as Parquet with CUR's own types: timestamps, doubles, a map of tags."""
    table = pacsv.read_csv(FIXTURES / "cur2_2026-01.csv")
    tags = [
        None if not text else list(json.loads(text).items())
        for text in table["resource_tags"].to_pylist()
    ]
    table = table.set_column(
        table.schema.get_field_index("resource_tags"),
        "resource_tags",
        pa.array(tags, pa.map_(pa.string(), pa.string())),
    )
    assert pa.types.is_floating(table["line_item_unblended_cost"].type)
    assert pa.types.is_timestamp(table["line_item_usage_start_date"].type)
    landing = home.landing / "billing" / "aws"
    landing.mkdir()
    pq.write_table(table, landing / "cur2_2026-01.parquet")
    _check_cur(home, ingest_file(home, landing / "cur2_2026-01.parquet"))


def test_neocloud_invoice_through_its_yaml_mapping(home: Home):
    (home.config / "billing_mappings").mkdir(parents=True)
    shutil.copy(FIXTURES / "gpucloud.yaml", home.config / "billing_mappings" / "gpucloud.yaml")
    result = ingest_file(home, FIXTURES / "gpucloud_invoice_2026-01.csv", kind="billing")
    assert (result.parser, result.rows_read, result.rows_loaded) == (
        "billing_mapping:gpucloud",
        5,
        3,
    )
    rows = _raw(home, result.sha256)
    assert sum(r["billed_cost"] for r in rows) == D("987.285")
    assert sum(r["consumed_quantity"] for r in rows) == D("396.5")
    assert {(r["provider"], r["billing_account_id"], r["invoice_id"]) for r in rows} == {
        ("GPU Cloud Co", "lab-account-7", "GC-2026-01")
    }
    assert {r["tags"] for r in rows} == {'{"cluster":"neo-h100"}'}
    third = rows[2]
    assert (third["charge_period_start"], third["charge_period_end"]) == (
        datetime(2026, 1, 7),
        datetime(2026, 1, 8),
    )
    assert third["billing_period_start"] == datetime(2026, 1, 1)
    bad = {
        q["_source_row"]: (q["reason_code"], q["column_name"], q["value"])
        for q in _quarantined(home, result.sha256)
    }
    assert bad == {
        5: ("amount_mismatch", "amount_usd", "99.99"),
        6: ("bad_number", "gpu_hours", "lots"),
    }


def test_bad_mapping_names_file_and_key(home: Home):
    folder = home.config / "billing_mappings"
    folder.mkdir(parents=True)
    (folder / "gpucloud.yaml").write_text("provider: X\ncolumns: {day: d, gpu_hours: h}\n")
    result = ingest_file(home, FIXTURES / "gpucloud_invoice_2026-01.csv", kind="billing")
    assert result.status == "file_quarantined"
    assert "billing_mappings/gpucloud.yaml: key columns.resource_id" in result.message


def test_unmapped_invoice_is_rejected_with_the_mappings_known(home: Home):
    result = ingest_file(home, FIXTURES / "gpucloud_invoice_2026-01.csv", kind="billing")
    assert result.status == "file_quarantined"
    assert "config/billing_mappings/" in result.message
