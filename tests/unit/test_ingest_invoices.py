"""Mapping-driven invoice parsing and the whole-invoice checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import config
from llmledger.ingest.invoices import check_invoices, parse
from llmledger.paths import Home
from llmledger.vendor_mappings import mapping_for

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
CROWDMINT = mapping_for(FIXTURE / "config", "crowdmint")
HEADER = (
    "Doc type;Invoice;Ref invoice;Date;Line;Project;Task description;Unit;Tasks;Pay per task;"
    "Line amount;Currency;Invoice total\n"
)


def _checked(text: str):
    parsed = parse(text, CROWDMINT, "crowdmint")
    check_invoices(parsed)
    return parsed


def test_lines_not_summing_to_the_stated_total_quarantine_the_whole_invoice():
    """1200.00 + 504.00 = 1704.00 EUR, but the invoice states 1719.00: both lines go."""
    parsed = _checked(
        HEADER
        + "Invoice;CM-9;;31.01.2026;1;SFT-GEN;w;Task;400;2,50;1.200,00;EUR;1.719,00\n"
        + "Invoice;CM-9;;31.01.2026;2;PREF;r;Ranking task;1200;0,35;504,00;EUR;1.719,00\n"
    )
    assert parsed.records == []
    assert [r.line for r in parsed.rejected] == [2, 3]
    assert {r.reason_code for r in parsed.rejected} == {"invoice_total_mismatch"}
    message = parsed.rejected[0].message
    assert "CM-9" in message and "1719.00 EUR" in message and "1704.00 EUR" in message


def test_a_rejected_line_makes_the_invoice_incomplete_so_it_is_quarantined_whole():
    parsed = _checked(
        HEADER
        + "Invoice;CM-8;;31.01.2026;1;SFT-GEN;w;Task;400;2,50;1.200,00;EUR;1.215,00\n"
        + "Invoice;CM-8;;31.01.2026;2;SFT-GEN;w;Task;ten;1,25;15,00;EUR;1.215,00\n"
    )
    assert parsed.records == []
    reasons = {r.line: r.reason_code for r in parsed.rejected}
    assert reasons == {2: "invoice_total_mismatch", 3: "bad_number"}
    assert "line(s) 3 of it were rejected" in parsed.rejected[0].message


def test_credit_note_is_loaded_whatever_arrived_before_it():
    """Whether its invoice is known is decided in the warehouse over every delivery
    (tests/e2e/test_vendor_invoice_order.py): ingest alone cannot know what a parallel task
    is loading. -(4 x 2.50 + 20 %) = -12.00 EUR."""
    text = HEADER + "Credit note;CN-1;CM-404;15.02.2026;1;SFT-GEN;w;Task;4;2,50;12,00;EUR;12,00\n"
    parsed = _checked(text)
    assert parsed.rejected == []
    [record] = parsed.records
    assert record.values["amount"] == Decimal("-12")
    assert record.values["invoice_total"] == Decimal("-12")
    assert record.values["references_invoice"] == "CM-404"


def test_credit_note_naming_no_invoice_is_quarantined_whole():
    text = HEADER + "Credit note;CN-2;;15.02.2026;1;SFT-GEN;w;Task;4;2,50;12,00;EUR;12,00\n"
    [rejected] = _checked(text).rejected
    assert rejected.reason_code == "credit_note_without_reference"
    assert "CN-2" in rejected.message


def test_percentage_fee_and_decimal_comma():
    """1.234 tasks x 0,10 = 123.40 + 20 % = 148.08 (thousands '.', decimals ',')."""
    parsed = _checked(
        HEADER + "Invoice;CM-6;;31.01.2026;1;SFT-GEN;w;Task;1.234;0,10;148,08;EUR;148,08\n"
    )
    [record] = parsed.records
    assert record.values["quantity"] == Decimal(1234)
    assert record.values["platform_fee"] == Decimal("24.68")
    assert record.values["amount"] == Decimal("148.08")


def test_bad_mapping_names_the_file_and_the_key(tmp_path: Path):
    home = Home(tmp_path).ensure()
    (home.config / "vendors").mkdir()
    (home.config / "vendors" / "acme.yaml").write_text(
        "format: xml\nfields:\n  invoice_id: Inv\n  quantity: Qty\n"
        "unit_types:\n  Pair: comparisons\n"
    )
    with pytest.raises(config.ConfigError) as err:
        config.load_config(home)
    text = str(err.value)
    assert "config/vendors/acme.yaml, key format: value 'xml'" in text
    assert "key unit_types.Pair: value 'comparisons'" in text


def test_shipped_mappings_are_valid(tmp_path: Path):
    import shutil

    home = Home(tmp_path).ensure()
    shutil.copytree(FIXTURE / "config", home.config, dirs_exist_ok=True)
    assert set(config.load_config(home).vendor_mappings) == {"crowdmint", "tessera", "quillhours"}


TESSERA = mapping_for(FIXTURE / "config", "tessera")
QUILLHOURS = mapping_for(FIXTURE / "config", "quillhours")


def _tessera(document: dict) -> list[dict]:
    import json

    parsed = parse(json.dumps(document), TESSERA, "tessera")
    check_invoices(parsed)
    assert parsed.rejected == []
    return [r.values for r in parsed.records]


def test_tessera_non_usd_invoice_with_a_platform_fee_line():
    """EUR: 500 comparisons x 1.10 = 550.00, platform fee line 55.00; amount_due 605.00."""
    lines = _tessera(
        {
            "vendor": "tessera",
            "invoice_number": "TS-EU-1",
            "issued": "2026-03-02",
            "currency": "EUR",
            "amount_due": "605.00",
            "lines": [
                {"id": "1", "type": "service", "project": "PREF-CHAT", "sku": "PAIRWISE"}
                | {"qty": 500, "rate": "1.10", "amount": "550.00"},
                {"id": "2", "type": "platform_fee", "amount": "55.00"},
            ],
        }
    )
    assert [(v["line_kind"], v["unit_type"], v["amount"], v["currency"]) for v in lines] == [
        ("work", "comparison", Decimal("550"), "EUR"),
        ("fee", None, Decimal("55"), "EUR"),
    ]
    assert {v["invoice_total"] for v in lines} == {Decimal("605")}


def test_tessera_credit_memo_and_revision():
    """A credit memo on TS-2026-01: 2 SFT examples x 18.50 = -37.00; its revision 1 keeps
    the revision it declares."""
    document = {
        "vendor": "tessera",
        "invoice_number": "TS-CM-1",
        "document": "Credit memo",
        "corrects": "TS-2026-01",
        "revision": 1,
        "issued": "2026-02-20",
        "currency": "USD",
        "amount_due": "37.00",
        "lines": [
            {"id": "1", "type": "service", "project": "SFT-GEN", "sku": "SFT_EXAMPLE"}
            | {"qty": 2, "rate": "18.50", "amount": "37.00"}
        ],
    }
    [line] = _tessera(document)
    assert (line["document_type"], line["references_invoice"], line["revision"]) == (
        "credit_note",
        "TS-2026-01",
        1,
    )
    assert (line["quantity"], line["amount"], line["invoice_total"]) == (
        Decimal(2),
        Decimal("-37"),
        Decimal("-37"),
    )


def test_quillhours_credit_row_and_agency_fee():
    """GBP timesheet: 10 h x 45.00 + VAT 90.00 = 540.00; -2 h written off with their VAT
    = -108.00 (a credit); agency fee 50.00; TOTAL 540 - 108 + 50 = 482.00."""
    parsed = parse(
        "Timesheet,Submitted,Week ending,Contractor,Entry,Project,Hours,Rate,VAT,Amount\n"
        "QH-0150,28/02/2026,07/02/2026,A. Osei,time,RED-TEAM,10,45.00,90.00,540.00\n"
        "QH-0150,28/02/2026,14/02/2026,A. Osei,time,RED-TEAM,-2,45.00,-18.00,-108.00\n"
        "QH-0150,28/02/2026,,,Agency fee,,,,,50.00\n"
        "QH-0150,28/02/2026,,,TOTAL,,,,,482.00\n",
        QUILLHOURS,
        "quillhours",
    )
    check_invoices(parsed)
    assert parsed.rejected == [] and parsed.rows_skipped == 1
    lines = [r.values for r in parsed.records]
    assert [(v["line_kind"], v["quantity"], v["amount"], v["currency"]) for v in lines] == [
        ("work", Decimal(10), Decimal("540"), "GBP"),
        ("credit", Decimal(2), Decimal("-108"), "GBP"),
        ("fee", None, Decimal("50"), "GBP"),
    ]
    assert {v["invoice_total"] for v in lines} == {Decimal("482")}
