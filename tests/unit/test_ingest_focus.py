"""FOCUS CSV ingest: the published FOCUS samples and a hand-made messy file.

Expected totals were read off the CSVs by hand (column by column), not taken from the parser.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from focus_samples import SAMPLE_PATHS, SAMPLE_TOTALS, SAMPLES
from llmledger.ingest import ingest_file
from llmledger.ingest.common import FileRejected
from llmledger.ingest.focus import parse
from llmledger.paths import Home
from llmledger.raw_schema import FOCUS, write_schema_files

MESSY = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "focus_messy.csv"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    for folder in ("billing", "invoices", "pipeline"):
        (home.landing / folder).mkdir(parents=True)
    write_schema_files(home)
    return home


def _raw(home: Home, sha: str) -> list[dict]:
    table = pq.read_table(home.raw_dir("focus") / f"{sha}.parquet")
    assert table.schema.equals(FOCUS)
    return table.to_pylist()


def _quarantined(home: Home, sha: str) -> list[dict]:
    path = home.quarantine_rows / f"{sha}.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []


def test_every_sample_file_is_covered():
    assert len(SAMPLE_PATHS) == len(list(SAMPLES.rglob("*.csv")))  # names are unique
    assert sorted(SAMPLE_PATHS) == sorted(SAMPLE_TOTALS)


@pytest.mark.parametrize("name", sorted(SAMPLE_TOTALS))
def test_focus_sample_totals(home: Home, name: str):
    read, loaded, billed, effective, bad_lines = SAMPLE_TOTALS[name]
    result = ingest_file(home, SAMPLE_PATHS[name], kind="billing")

    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded) == (read, loaded)
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_skipped
    rows = _raw(home, result.sha256)
    assert len(rows) == loaded
    assert sum(r["billed_cost"] for r in rows) == Decimal(billed)
    assert sum(r["effective_cost"] or 0 for r in rows) == Decimal(effective)
    bad = _quarantined(home, result.sha256)
    assert [q["_source_row"] for q in bad] == bad_lines
    for q in bad:
        assert (q["reason_code"], q["column_name"], q["value"]) == (
            "bad_timestamp",
            "ChargePeriodEnd",
            "2023-02-01T30:00:00Z",
        )
        assert q["raw_text"].endswith(
            ",2023-02-01T30:00:00Z,Purchase,Recurring,Standard,"
            "<my-commitment-discount-id>,"
            + ("1.00" if "scenario_2" in name else "0.50")
            + ",0.00,<my-commitment-discount-id>,"
            + ("1.00" if "scenario_2" in name else "0.50")
            + ",USD"
        )


def test_us_dates_money_formatting_and_names_from_saas_sample(home: Home):
    result = ingest_file(
        home, SAMPLES / "saas_examples/simple_agreements/simple_saas_agreements_a2.csv"
    )
    [row] = _raw(home, result.sha256)
    assert row["charge_period_start"] == datetime(2025, 4, 1)
    assert row["charge_period_end"] == datetime(2026, 4, 1)
    assert row["billing_period_end"] == datetime(2025, 5, 1)
    assert row["contracted_cost"] == Decimal("50000")
    assert (row["provider"], row["publisher"], row["invoice_issuer"]) == ("ACMECORP",) * 3
    assert row["pricing_quantity"] == Decimal(500)
    assert row["tags"] == "{}"
    assert row["x_columns"] == "{}"
    assert row["_source_row"] == 2
    assert row["_source_file"] == "landing/billing/simple_agreements/simple_saas_agreements_a2.csv"


def test_x_columns_and_null_literals_from_commitment_sample(home: Home):
    name = (
        "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv"
    )
    result = ingest_file(home, SAMPLES / "commitment_discount_flexibility" / name)
    rows = _raw(home, result.sha256)
    # Blank lines between rows are not rows: physical line numbers 2, 4, 6.
    assert [r["_source_row"] for r in rows] == [2, 4, 6]
    assert json.loads(rows[0]["x_columns"]) == {"x_CommitmentDiscountUnitPrice": "0.50"}
    assert rows[0]["consumed_quantity"] is None  # literal null
    assert rows[0]["commitment_discount_status"] is None
    assert rows[1]["commitment_discount_status"] == "Used"
    assert rows[2]["commitment_discount_id"] is None


def test_messy_file(home: Home):
    result = ingest_file(home, MESSY)

    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (9, 3, 6)
    rows = _raw(home, result.sha256)
    assert [r["_source_row"] for r in rows] == [2, 4, 7]
    first, second, third = rows
    # BOM stripped from the first header name, "1,234.50" quoted with a thousands separator.
    assert first["charge_period_start"] == datetime(2026, 1, 5, 10)
    assert first["billed_cost"] == Decimal("1234.50")
    assert first["effective_cost"] == Decimal("1200.25")  # AmortizedCost, the pre-1.0 name
    assert (first["provider"], first["invoice_issuer"], first["publisher"]) == (
        "Lambda",
        "Lambda Inc",
        None,
    )
    assert first["charge_description"] == "H100, 8x node"
    assert first["tags"] == '{"activity":"training.sft","cluster":"gpu-a"}'
    assert json.loads(first["x_columns"]) == {"x_GpuModel": "H100", "x_Spot": "false"}
    # +02:00 offsets converted to naive UTC; a quoted field spanning two physical lines.
    assert second["charge_period_start"] == datetime(2026, 1, 5, 10)
    assert second["charge_period_end"] == datetime(2026, 1, 5, 11)
    assert second["billing_period_start"] == datetime(2026, 1, 1)
    assert second["effective_cost"] is None
    assert second["charge_description"] == "multi\r\nline description"
    assert second["tags"] == "{}"
    assert json.loads(second["x_columns"]) == {"x_GpuModel": None, "x_Spot": None}
    # US dates with 24-hour and AM/PM times.
    assert third["charge_period_start"] == datetime(2026, 1, 5, 14)
    assert third["charge_period_end"] == datetime(2026, 1, 5, 15)
    assert third["billed_cost"] == Decimal("0.004")

    bad = {q["_source_row"]: q for q in _quarantined(home, result.sha256)}
    assert {line: (q["reason_code"], q["column_name"], q["value"]) for line, q in bad.items()} == {
        8: ("bad_number", "BilledCost", "abc"),
        9: ("bad_timestamp", "ChargePeriodStart", "2026-13-05T10:00:00Z"),
        10: ("missing_required", "ChargePeriodStart", ""),
        11: ("missing_required", "BilledCost", "null"),
        12: (
            "expect_column_pair_values_a_to_be_greater_than_b",
            "charge_period_end",
            "2026-01-05 10:00:00",
        ),
        13: ("bad_tags", "Tags", "cluster=gpu-a"),
    }
    assert (
        bad[8]["raw_text"]
        == "2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,2026-01-01,Lambda,,,abc,1,,,bad number,,,"
    )
    assert bad[8]["expected"] == "a decimal number such as 1234.56"
    assert bad[12]["expected"] == ">= charge_period_start"
    assert all(q["message"] for q in bad.values())


def test_header_without_required_columns_rejects_the_file():
    with pytest.raises(FileRejected) as caught:
        parse("ChargePeriodStart,ChargePeriodEnd,EffectiveCost\n2026-01-01,2026-01-02,1\n")
    assert caught.value.reason_code == "missing_columns"
    assert "BilledCost" in caught.value.message


def test_current_name_wins_over_deprecated_one():
    text = (
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,ProviderName,ServiceProviderName,EffectiveCost,AmortizedCost\n"
        "2026-01-01,2026-01-02,1,Old,New,,7\n"
    )
    [record] = parse(text).records
    assert record.values["provider"] == "New"
    # EffectiveCost empty: the older AmortizedCost fills it.
    assert record.values["effective_cost"] == Decimal(7)


def test_partial_columns_are_null_and_field_count_is_checked():
    parsed = parse(
        "ChargePeriodStart,ChargePeriodEnd,BilledCost\n2026-01-01,2026-01-02,1\n2026-01-01,2026-01-02\n"
    )
    [record] = parsed.records
    assert record.values["resource_id"] is None
    assert record.values["tags"] == "{}"
    [rejected] = parsed.rejected
    assert (rejected.line, rejected.reason_code) == (3, "field_count")


def test_delivery_style_columns_are_checked_and_normalised():
    text = (
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,X_DELIVERYSTYLE,x_ExportedAt\n"
        "2026-01-01,2026-01-02,1,Replacement,2026-02-01T08:00:00+02:00\n"
        "2026-01-01,2026-01-02,1,restated,\n"
        "2026-01-01,2026-01-02,1,delta,yesterday\n"
    )
    parsed = parse(text)
    [record] = parsed.records
    # Canonical names whatever the file's case; export time as naive UTC.
    assert json.loads(record.values["x_columns"]) == {
        "x_DeliveryStyle": "Replacement",
        "x_ExportedAt": "2026-02-01 06:00:00",
    }
    assert [(r.line, r.reason_code, r.column, r.value) for r in parsed.rejected] == [
        (3, "bad_delivery_style", "x_DeliveryStyle", "restated"),
        (4, "bad_timestamp", "x_ExportedAt", "yesterday"),
    ]
