"""Great Expectations suites on raw batches."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from llmledger.raw_schema import RAW_SCHEMAS
from llmledger.validation.raw import expected, validate_batch

T0 = datetime(2026, 1, 5, 10)
T1 = datetime(2026, 1, 5, 11)
LINEAGE = {"_source_file": "landing/x", "_source_sha256": "abc", "_ingested_at": T0}


def _frame(kind: str, rows: list[dict]) -> pd.DataFrame:
    full = [{**LINEAGE, "_source_row": n, **row} for n, row in enumerate(rows, start=2)]
    return pa.Table.from_pylist(full, schema=RAW_SCHEMAS[kind]).to_pandas()


def test_focus_suite():
    df = _frame(
        "focus",
        [
            {"charge_period_start": T0, "charge_period_end": T1, "billed_cost": Decimal(1)},
            {"charge_period_start": T1, "charge_period_end": T0, "billed_cost": Decimal(1)},
            {"charge_period_start": T0, "charge_period_end": T0, "billed_cost": None},
            {"charge_period_start": None, "charge_period_end": T1, "billed_cost": Decimal(2)},
        ],
    )
    flags = validate_batch("focus", df)
    assert {(f.row_index, f.expectation, f.column) for f in flags} == {
        (1, "expect_column_pair_values_a_to_be_greater_than_b", "charge_period_end"),
        (2, "expect_column_values_to_not_be_null", "billed_cost"),
        (3, "expect_column_values_to_not_be_null", "charge_period_start"),
    }
    [backwards] = [f for f in flags if f.row_index == 1]
    assert backwards.value == pd.Timestamp(T0)


def test_slurm_suite_allows_running_jobs():
    df = _frame(
        "slurm_job",
        [
            {"job_id": "1", "gpus": 8, "start_time": T0, "end_time": None},
            {"job_id": "2", "gpus": -1, "start_time": T0, "end_time": T1},
            {"job_id": "3", "gpus": 1, "start_time": T1, "end_time": T0},
            {"job_id": "4", "gpus": 0, "start_time": None, "end_time": None},
        ],
    )
    flags = validate_batch("slurm_job", df)
    assert sorted((f.row_index, f.expectation) for f in flags) == [
        (1, "expect_column_values_to_be_between"),
        (2, "expect_column_pair_values_a_to_be_greater_than_b"),
    ]


def test_annotation_suite():
    base = {"vendor": "v", "invoice_id": "i", "line_id": "l"}
    df = _frame(
        "annotation_invoice",
        [
            {**base, "quantity": Decimal(3), "amount": Decimal(9)},
            {**base, "quantity": Decimal(-1), "amount": Decimal(-3)},
            {**base, "quantity": Decimal(1), "amount": None},
        ],
    )
    flags = validate_batch("annotation_invoice", df)
    assert sorted((f.row_index, f.column) for f in flags) == [(1, "quantity"), (2, "amount")]


def test_lineage_is_checked_for_every_kind():
    df = _frame("slurm_job", [{"job_id": "1", "gpus": 1}])
    df.loc[0, "_source_sha256"] = None
    [flag] = validate_batch("slurm_job", df)
    assert (flag.column, flag.expectation) == (
        "_source_sha256",
        "expect_column_values_to_not_be_null",
    )


def test_empty_batch_needs_no_validation():
    assert validate_batch("focus", _frame("focus", [])) == []


def test_expected_text():
    assert expected("slurm_job", "expect_column_values_to_be_between", "gpus") == ">= 0"
    with pytest.raises(KeyError):
        expected("slurm_job", "expect_column_values_to_be_between", "nope")
