"""Small hand-written input files for the fault-and-bad-input suite, in the golden
organisation's formats (tests/golden_org.py): its headers, rows built on them, and readers of
what ingest made of them.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow.parquet as pq

from golden_org import GOLDEN_FOCUS, GOLDEN_INVOICE, GOLDEN_SACCT
from llmledger.paths import Home

FOCUS_HEADER = GOLDEN_FOCUS.read_text().splitlines()[0]
INVOICE_HEADER = GOLDEN_INVOICE.read_text().splitlines()[0]
SACCT_HEADER = GOLDEN_SACCT.read_text().splitlines()[0]
D = Decimal


def focus_row(
    invoice: str,
    billed: str,
    effective: str | None = None,
    *,
    currency: str = "USD",
    start: str = "2026-02-01T00:00:00Z",
    end: str = "2026-02-02T00:00:00Z",
    resource: str = "support",
    description: str = "Support",
    unit: str = "",
    quantity: str = "",
    tags: str = "",
    period: tuple[str, str] = ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
) -> str:
    """One FOCUS line under :data:`FOCUS_HEADER` (18 columns); untagged rows are overhead."""
    effective = billed if effective is None else effective
    return ",".join(
        [
            "lab-1",
            *period,
            start,
            end,
            "Owned",
            invoice,
            resource,
            resource,
            "Usage",
            "",
            description,
            unit,
            quantity,
            billed,
            effective,
            currency,
            tags,
        ]
    )


def sacct_row(
    job: str, alloc_tres: str, start: str, end: str, comment: str = "", cluster: str = "c1"
) -> str:
    """One sacct --parsable2 job line under :data:`SACCT_HEADER` (14 columns)."""
    return "|".join(
        [job, "job", "gpu", "misc", "dave", "", comment, cluster, "COMPLETED",
         start, start, end, "01:00:00", alloc_tres]
    )  # fmt: skip


def invoice_row(
    invoice: str,
    project: str,
    quantity: str,
    unit_price: str,
    line_total: str = "",
    currency: str = "USD",
) -> str:
    """One line of the built-in invoice layout (:data:`INVOICE_HEADER`), dated 2026-02-28."""
    return ",".join(
        [invoice, "2026-02-28", "1", project, "labels", "item", quantity, unit_price, "", "",
         line_total, currency, "2026-02-01", "2026-02-28"]
    )  # fmt: skip


def lines(*rows: str, encoding: str = "utf-8") -> bytes:
    """The rows as a file's bytes, one per line."""
    return ("\n".join(rows) + "\n").encode(encoding)


def drop_columns(header: str, row: str, *names: str) -> tuple[str, str]:
    """``header`` and ``row`` without the columns ``names`` (a header that lost columns)."""
    fields = header.split(",")
    keep = [i for i, name in enumerate(fields) if name not in names]
    values = row.split(",")
    return ",".join(fields[i] for i in keep), ",".join(values[i] for i in keep)


def quarantined_rows(home: Home, sha256: str) -> dict[int, dict]:
    """The quarantined rows of one source file, by source line."""
    path = home.quarantine_rows / f"{sha256}.parquet"
    if not path.exists():
        return {}
    return {row["_source_row"]: row for row in pq.read_table(path).to_pylist()}


def raw_rows(home: Home, kind: str, sha256: str) -> list[dict]:
    """The raw rows one source file loaded (empty when it loaded none)."""
    path = home.raw_dir(kind) / f"{sha256}.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []
