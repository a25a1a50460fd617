"""Value parsing shared by the ingest parsers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from llmledger.ingest.common import (
    FileRejected,
    RowError,
    clean,
    csv_records,
    decode,
    parse_date,
    parse_decimal,
    parse_timestamp,
    physical_lines,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5", "12.5"),
        ("-3", "-3"),
        ("1e-4", "0.0001"),
        ("$10,000.00 ", "10000"),
        ("(5.00)", "-5"),
        ("-$1,234.5", "-1234.5"),
        ("+.5", "0.5"),
        ("0.00 ", "0"),
        ("0.00000000004", "0"),  # below DECIMAL(38, 10): rounds half-even to zero
        ("0.00000000005", "0"),
        ("0.00000000015", "0.0000000002"),
        ("null", None),
        ("  ", None),
    ],
)
def test_parse_decimal(text: str, expected: str | None):
    value = parse_decimal(text, "c")
    assert value == (None if expected is None else Decimal(expected))
    if value is not None:
        assert value.as_tuple().exponent == -10


@pytest.mark.parametrize(
    "text", ["abc", "1,2", "1_000", "NaN", "Infinity", "()", "$", "1e40", "(5"]
)
def test_parse_decimal_rejects(text: str):
    with pytest.raises(RowError) as caught:
        parse_decimal(text, "BilledCost")
    assert (caught.value.reason_code, caught.value.column, caught.value.value) == (
        "bad_number",
        "BilledCost",
        text,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-01T00:00:00Z", datetime(2023, 1, 1)),
        ("2024-01-01T05:30:00+05:30", datetime(2024, 1, 1)),
        ("2024-01-01 00:00:00-0800", datetime(2024, 1, 1, 8)),
        ("2024-03-10T01:02:03.5", datetime(2024, 3, 10, 1, 2, 3, 500000)),
        ("2024-03-10", datetime(2024, 3, 10)),
        ("5/1/25", datetime(2025, 5, 1)),
        ("5/1/2025", datetime(2025, 5, 1)),
        ("12/31/2025 23:59:59", datetime(2025, 12, 31, 23, 59, 59)),
        ("5/1/2025 1:05 PM", datetime(2025, 5, 1, 13, 5)),
        ("5/1/2025 12:00 am", datetime(2025, 5, 1, 0, 0)),
        ("null", None),
    ],
)
def test_parse_timestamp(text: str, expected: datetime | None):
    assert parse_timestamp(text, "c") == expected


@pytest.mark.parametrize(
    "text", ["2023-02-01T30:00:00Z", "13/1/25", "2/30/2025", "yesterday", "5/1/2025 13:00 PM"]
)
def test_parse_timestamp_rejects(text: str):
    with pytest.raises(RowError) as caught:
        parse_timestamp(text, "ChargePeriodEnd")
    assert caught.value.reason_code == "bad_timestamp"
    assert text in caught.value.message


def test_parse_date():
    assert parse_date("2026-01-31", "d") == date(2026, 1, 31)
    assert parse_date("1/31/26", "d") == date(2026, 1, 31)
    with pytest.raises(RowError):
        parse_date("2026-01-31T10:00:00", "d")


def test_clean():
    assert clean(" x ") == "x"
    assert clean("NULL") is None
    assert clean("nullable") == "nullable"


def test_decode_strips_bom_and_rejects_binary():
    assert decode(b"\xef\xbb\xbfa,b\n") == "a,b\n"
    assert decode("café".encode("cp1252")) == "café"
    assert decode("a,b\n".encode("utf-16")) == "a,b\n"  # encode() writes the BOM
    with pytest.raises(FileRejected) as caught:
        decode(b"\x00\x01garbage")
    assert caught.value.reason_code == "binary_file"


def test_csv_records_number_physical_lines_and_skip_blank_ones():
    lines = physical_lines('h1,h2\r\n\r\n1,"a\r\nb"\r\n   \n2,c\rlast,x')
    assert list(csv_records(lines)) == [
        (1, "h1,h2", ["h1", "h2"]),
        (3, '1,"a\r\nb"', ["1", "a\r\nb"]),
        (6, "2,c", ["2", "c"]),
        (7, "last,x", ["last", "x"]),
    ]
