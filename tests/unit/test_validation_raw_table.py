"""validate_table: Arrow counts decide whether a batch needs GX; flags are GX's own."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from llmledger.raw_schema import RAW_SCHEMAS
from llmledger.validation import raw

T0 = datetime(2026, 1, 5, 10)
T1 = datetime(2026, 1, 5, 11)
LINEAGE = {"_source_file": "landing/x", "_source_sha256": "abc", "_ingested_at": T0}


def _table(kind: str, rows: list[dict]) -> pa.Table:
    full = [{**LINEAGE, "_source_row": n, **row} for n, row in enumerate(rows, start=2)]
    return pa.Table.from_pylist(full, schema=RAW_SCHEMAS[kind])


def test_a_clean_batch_never_reaches_gx(monkeypatch):
    def boom(*_args):
        raise AssertionError("GX must not run on a clean batch")

    monkeypatch.setattr(raw, "validate_batch", boom)
    table = _table(
        "focus",
        [{"charge_period_start": T0, "charge_period_end": T1, "billed_cost": Decimal("-1")}] * 3,
    )
    assert raw.validate_table("focus", table) == []
    jobs = _table(
        "slurm_job", [{"job_id": "1", "gpus": 0, "start_time": T0, "end_time": None}]
    )
    assert raw.validate_table("slurm_job", jobs) == []


@pytest.mark.parametrize(
    ("kind", "row"),
    [
        ("focus", {"charge_period_start": T1, "charge_period_end": T0, "billed_cost": Decimal(1)}),
        ("focus", {"charge_period_start": T0, "charge_period_end": T1, "billed_cost": None}),
        ("slurm_job", {"job_id": "1", "gpus": -1, "start_time": T0, "end_time": T1}),
        ("annotation_invoice", {"vendor": "v", "invoice_id": "i", "line_id": "1",
                                "quantity": Decimal(-2), "amount": Decimal(1)}),
    ],
)  # fmt: skip
def test_a_batch_with_a_bad_row_gets_the_same_flags_as_gx(kind: str, row: dict):
    table = _table(kind, [row, row])
    assert raw.validate_table(kind, table) == raw.validate_batch(kind, table.to_pandas())
    assert raw.validate_table(kind, table)  # the bad row is flagged
