"""Container formats of billing files: gzip around anything, Parquet beside CSV.

Parsers work on ``(line, raw text, fields)`` records with text fields, whatever the container,
so a FOCUS export parses the same from CSV, ``.csv.gz`` or Parquet. For Parquet the record
number is 1-based (there is no header line) and the raw text kept for quarantine is the row as
JSON.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from llmledger.ingest.common import FileRejected, csv_records, decode, physical_lines

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"

Records = Iterator[tuple[int, str, list[str | None]]]


def gunzip(data: bytes) -> bytes:
    """The content of a gzip file (several members allowed); other bytes unchanged."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise FileRejected("bad_gzip", f"not a readable gzip file ({exc})") from exc


def is_parquet(data: bytes) -> bool:
    # The leading magic alone: a Parquet file cut short (no footer) must be reported as a
    # damaged Parquet file (`bad_parquet`), not as binary text.
    return data.startswith(PARQUET_MAGIC)


def as_text(value: Any) -> str | None:
    """A Parquet value as the text a CSV export would carry (exact for decimals)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same double.
        return None if value != value else repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return json.dumps({str(k): v for k, v in value}, default=str, ensure_ascii=False)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def parquet_table(data: bytes) -> tuple[list[str], Records]:
    """Column names and text records of a Parquet file."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise FileRejected("bad_parquet", f"not a readable Parquet file ({exc})") from exc
    names = list(table.column_names)

    def records() -> Records:
        for number, row in enumerate(table.to_pylist(), start=1):
            fields = [as_text(row[name]) for name in names]
            raw = json.dumps(dict(zip(names, fields, strict=True)), ensure_ascii=False)
            yield number, raw, fields

    return names, records()


def csv_table(text: str) -> tuple[list[str], Records, str]:
    """Header names, records and where the header is, of CSV text."""
    records = csv_records(physical_lines(text))
    header = next(records, None)
    if header is None:
        raise FileRejected("empty_file", "the file has no header line")
    return header[2], records, f"line {header[0]}"  # type: ignore[return-value]


def read_table(data: bytes) -> tuple[list[str], Records, str]:
    """Header names, text records and where the header is, of CSV or Parquet bytes."""
    if is_parquet(data):
        names, records = parquet_table(data)
        return names, records, "the Parquet schema"
    return csv_table(decode(data))
