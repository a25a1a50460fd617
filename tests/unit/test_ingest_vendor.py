"""Annotation-vendor invoice CSV ingest."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from llmledger.ingest import ingest_file
from llmledger.ingest.vendor_csv import parse
from llmledger.paths import Home
from llmledger.raw_schema import ANNOTATION_INVOICE, write_schema_files

INVOICE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "ingest"
    / "invoices"
    / "acme-labeling"
    / "inv_2026_01.csv"
)
HEADER = (
    "invoice_id,invoice_date,line_id,project_code,description,unit_type,quantity,unit_price,"
    "platform_fee,credit,line_total,currency,service_period_start,service_period_end"
)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    for folder in ("billing", "invoices", "pipeline"):
        (home.landing / folder).mkdir(parents=True)
    write_schema_files(home)
    return home


def test_invoice_in_vendor_folder(home: Home):
    landed = home.landing / "invoices" / "acme-labeling" / INVOICE.name
    landed.parent.mkdir()
    shutil.copy(INVOICE, landed)
    result = ingest_file(home, landed)

    assert result.kind == "annotation_invoice"
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (7, 4, 3)
    table = pq.read_table(home.raw_dir("annotation_invoice") / f"{result.sha256}.parquet")
    assert table.schema.equals(ANNOTATION_INVOICE)
    rows = {row["line_id"]: row for row in table.to_pylist()}
    assert {row["vendor"] for row in rows.values()} == {"acme-labeling"}
    # 1200 x 3.25 + 150 = 4050; 5000 x 0.80 - 100 = 3900; 0; 10 x 10.0005 = 100.005
    assert {k: r["amount"] for k, r in rows.items()} == {
        "1": Decimal("4050"),
        "2": Decimal("3900"),
        "3": Decimal(0),
        "5": Decimal("100.005"),
    }
    assert rows["3"]["platform_fee"] is None and rows["3"]["credit"] is None
    assert rows["5"]["description"] == "Red team, follow-up"
    assert rows["1"]["invoice_date"] == date(2026, 1, 31)
    assert rows["1"]["service_period_start"] == date(2026, 1, 1)

    bad = pq.read_table(home.quarantine_rows / f"{result.sha256}.parquet").to_pylist()
    assert {q["_source_row"]: (q["reason_code"], q["column_name"], q["value"]) for q in bad} == {
        5: ("amount_mismatch", "line_total", "2205.01"),  # 40 x 55.125 = 2205.00, off by a cent
        7: ("bad_number", "quantity", "twelve"),
        8: ("expect_column_values_to_be_between", "quantity", "-2"),
    }
    mismatch = next(q for q in bad if q["reason_code"] == "amount_mismatch")
    assert mismatch["expected"].startswith("2205 ")
    assert "0.01" in mismatch["message"]


def test_vendor_column_wins_over_folder():
    text = (
        f"vendor,{HEADER}\n"
        "ScaleCo,I-1,2026-01-31,L1,P,d,task,2,1.5,0,0,3.00,USD,,\n"
        ",I-1,2026-01-31,L2,P,d,task,1,1,0,0,1,USD,,\n"
    )
    parsed = parse(text, "folder-vendor")
    assert [r.values["vendor"] for r in parsed.records] == ["ScaleCo", "folder-vendor"]


def test_no_vendor_anywhere_is_quarantined():
    parsed = parse(f"{HEADER}\nI-1,2026-01-31,L1,P,d,task,2,1.5,0,0,3.00,USD,,\n", None)
    [rejected] = parsed.rejected
    assert (rejected.reason_code, rejected.column) == ("missing_required", "vendor")


def test_half_a_cent_is_tolerated_more_is_not():
    text = (
        f"{HEADER}\n"
        "I-1,,L1,P,d,task,1,10.005,0,0,10.00,USD,,\n"  # 10.005 vs 10.00: exactly half a cent
        "I-1,,L2,P,d,task,1,10.0051,0,0,10.00,USD,,\n"  # 10.0051 vs 10.00: beyond
    )
    parsed = parse(text, "v")
    assert [r.values["line_id"] for r in parsed.records] == ["L1"]
    assert [r.reason_code for r in parsed.rejected] == ["amount_mismatch"]


def test_outside_file_is_copied_under_its_vendor(home: Home, tmp_path: Path):
    outside = tmp_path / "downloads" / "march.csv"
    outside.parent.mkdir()
    outside.write_text(f"Vendor,{HEADER}\nScale Co,I-9,2026-03-31,L1,P,d,task,1,5,0,0,5,USD,,\n")
    result = ingest_file(home, outside)
    assert result.source_file == "landing/invoices/Scale_Co/march.csv"
    assert (home.root / result.source_file).read_bytes() == outside.read_bytes()
