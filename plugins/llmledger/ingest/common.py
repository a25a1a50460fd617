"""Pieces every parser shares: decoding, physical lines, value parsing, rejected rows.

Parsers turn the text of one source file into :class:`Parsed`: records ready for the raw
schema plus the rows they rejected. They never touch the file system; the pipeline does.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

# DECIMAL(38, 10): providers send up to ~16 decimals (AWS unit prices); rounding beyond the
# tenth place is the storage contract, and far below a millionth of a dollar.
SCALE = Decimal("1e-10")
MAX_INTEGER_DIGITS = 28
# Wide enough that products of two DECIMAL(38, 10) values are exact before rounding to scale.
MONEY_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN)

NULL_TOKENS = frozenset({"", "null"})


class FileRejected(Exception):
    """The file as a whole cannot be read (binary, unknown layout, missing required columns)."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


class RowError(Exception):
    """One value of one row is unusable; the row goes to quarantine with these details."""

    def __init__(
        self,
        reason_code: str,
        column: str | None,
        value: str | None,
        expected: str | None,
        message: str | None = None,
    ) -> None:
        text = message or f"column {column}: got {value!r}, expected {expected}"
        super().__init__(text)
        self.reason_code = reason_code
        self.column = column
        self.value = value
        self.expected = expected
        self.message = text


@dataclass
class Record:
    """One accepted source row: raw-schema values without the lineage columns."""

    line: int
    raw_text: str
    values: dict[str, Any]


@dataclass
class Rejected:
    """One quarantined source row."""

    line: int
    raw_text: str
    reason_code: str
    column: str | None
    value: str | None
    expected: str | None
    message: str

    @classmethod
    def from_error(cls, line: int, raw_text: str, err: RowError) -> Rejected:
        return cls(
            line, raw_text, err.reason_code, err.column, err.value, err.expected, err.message
        )


@dataclass
class Parsed:
    """What a parser made of one file. ``rows_read`` counts records, never blank lines."""

    parser: str
    records: list[Record] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    rows_read: int = 0
    rows_skipped: int = 0


def decode(data: bytes) -> str:
    """Text of a source file: UTF-8 or UTF-16 with a byte-order mark, UTF-8, else Windows-1252."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export; its NUL bytes are not a sign of binary content.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise FileRejected("bad_encoding", f"invalid UTF-16 at byte {exc.start}") from exc
    if b"\x00" in data[:65536]:
        raise FileRejected("binary_file", "not a text file (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if data.startswith(codecs.BOM_UTF8):
            # The file says it is UTF-8; read as Windows-1252 its BOM would become "ï»¿" in
            # the first column's name, and that column would silently load as empty.
            raise FileRejected(
                "bad_encoding",
                f"starts with a UTF-8 byte-order mark but is not valid UTF-8 "
                f"(byte {exc.start}: {exc.reason})",
            ) from exc
    try:
        # Spreadsheet exports on Windows are the usual non-UTF-8 case.
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "bad_encoding", f"not UTF-8 or Windows-1252 text (byte {exc.start}: {exc.reason})"
        ) from exc


def physical_lines(text: str) -> list[str]:
    """Lines as an editor numbers them (LF, CRLF or CR), each with its terminator."""
    return list(io.StringIO(text, newline=""))


def strip_terminator(line: str) -> str:
    return line.rstrip("\r\n")


def csv_records(lines: list[str], delimiter: str = ",") -> Iterator[tuple[int, str, list[str]]]:
    """``(first physical line, raw text, fields)`` per CSV record; blank lines are not records.

    A quoted field may span lines; the raw text then spans them too, verbatim.
    """
    reader = csv.reader(iter(lines), delimiter=delimiter)
    consumed = 0
    try:
        for fields in reader:
            start = consumed + 1
            consumed = reader.line_num
            raw = strip_terminator("".join(lines[start - 1 : consumed]))
            if not raw.strip():
                continue
            yield start, raw, fields
    except csv.Error as exc:
        raise FileRejected("malformed_csv", f"line {reader.line_num}: {exc}") from exc


def clean(value: str | None) -> str | None:
    """Surrounding space removed; empty text and the literal ``null`` become None."""
    if value is None:
        return None
    text = value.strip()
    return None if text.lower() in NULL_TOKENS else text


# Spreadsheet-formatted money as the FOCUS SaaS samples carry it: "$10,000.00 ", "(5.00)".
_NUMBER = re.compile(
    r"^(?P<open>\()?\s*(?P<sign>[+-])?\s*[$€£¥]?\s*"
    r"(?P<body>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+\.?\d*|\.\d+)(?P<exp>[eE][+-]?\d+)?"
    r"\s*(?P<close>\))?$"
)


def parse_decimal(value: str | None, column: str) -> Decimal | None:
    """A DECIMAL(38, 10) from ``12.5``, ``-3``, ``1e-4``, ``"$10,000.00 "`` or ``(5.00)``."""
    text = clean(value)
    if text is None:
        return None
    match = _NUMBER.match(text)
    if not match or bool(match["open"]) != bool(match["close"]):
        raise RowError("bad_number", column, value, "a decimal number such as 1234.56")
    number = Decimal(match["body"].replace(",", "") + (match["exp"] or ""))
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise RowError("bad_number", column, value, f"at most {MAX_INTEGER_DIGITS} integer digits")
    number = to_scale(number)
    negative = (match["sign"] == "-") != bool(match["open"])
    return -number if negative else number


def to_scale(number: Decimal) -> Decimal:
    """``number`` rounded (half even) to the ten decimal places of DECIMAL(38, 10)."""
    return number.quantize(SCALE, context=MONEY_CONTEXT)


_US_DATE = re.compile(
    r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4}|\d{2})"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,6}))?)?"
    r"\s*(?P<ampm>[AaPp][Mm])?)?$"
)


def _parse_us(text: str) -> datetime | None:
    match = _US_DATE.match(text)
    if not match:
        return None
    year = int(match["y"])
    if len(match["y"]) == 2:
        # Billing data is this century; strptime's 1969 pivot would put '69 in the past.
        year += 2000
    hour = int(match["H"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise ValueError("hour must be 1..12 with AM/PM")
        hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    micro = int((match["f"] or "0").ljust(6, "0"))
    return datetime(
        year,
        int(match["m"]),
        int(match["d"]),
        hour,
        int(match["M"] or 0),
        int(match["S"] or 0),
        micro,
    )


def parse_timestamp(value: str | None, column: str, assume: tzinfo = UTC) -> datetime | None:
    """A naive UTC timestamp from ISO-8601 (``Z``/offsets converted) or US ``M/D/YY[YY] [H:MM]``.

    Text without an offset is taken to be in ``assume`` (FOCUS requires UTC).
    """
    text = clean(value)
    if text is None:
        return None
    expected = "an ISO-8601 timestamp such as 2026-01-05T10:00:00Z, or M/D/YYYY [H:MM]"
    try:
        moment = _parse_us(text) or datetime.fromisoformat(text)
    except ValueError as exc:
        raise RowError(
            "bad_timestamp",
            column,
            value,
            expected,
            f"column {column}: {value!r} is not a valid timestamp ({exc}); expected {expected}",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=assume)
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_date(value: str | None, column: str) -> date | None:
    """A calendar date from ``YYYY-MM-DD`` or US ``M/D/YY[YY]`` (a time part must be midnight)."""
    text = clean(value)
    if text is None:
        return None
    expected = "a date such as 2026-01-31 or 1/31/2026"
    try:
        moment = _parse_us(text) or datetime.fromisoformat(text)
    except ValueError:
        raise RowError("bad_date", column, value, expected) from None
    if moment.tzinfo is not None or moment.time() != datetime.min.time():
        raise RowError("bad_date", column, value, expected)
    return moment.date()


def require(value: Any, column: str, raw: str | None, expected: str) -> Any:
    """``value`` unless it is None, in which case the row is rejected as missing."""
    if value is None:
        raise RowError(
            "missing_required", column, raw, expected, f"column {column} is required but empty"
        )
    return value


def fit_fields(fields: list[str], width: int) -> list[str]:
    """Fields of a row that has exactly ``width`` of them (one trailing empty extra tolerated)."""
    if len(fields) == width + 1 and fields[-1].strip() == "":
        return fields[:-1]
    if len(fields) != width:
        raise RowError(
            "field_count",
            None,
            str(len(fields)),
            f"{width} fields, as in the header",
            f"row has {len(fields)} fields; the header has {width}",
        )
    return fields
