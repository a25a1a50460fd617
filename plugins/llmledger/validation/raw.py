"""Great Expectations suites for raw batches, run by ingest before a batch is written.

Rows a suite flags are quarantined (reason = the expectation's name) instead of loaded, so a
row that parsed but makes no sense (a charge period that ends before it starts) never
reaches the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa

from llmledger.raw_schema import LINEAGE

if TYPE_CHECKING:
    import pandas as pd

NOT_NULL = "expect_column_values_to_not_be_null"
AT_LEAST = "expect_column_values_to_be_between"
NOT_BEFORE = "expect_column_pair_values_a_to_be_greater_than_b"


class Flag(NamedTuple):
    """One row a suite rejected: its index in the batch, the expectation, the column, the value."""

    row_index: Any
    expectation: str
    column: str
    value: Any


class _Check(NamedTuple):
    expectation: str
    column: str
    expected: str
    build: Callable[[Any], Any]  # great_expectations.expectations module -> Expectation


def _not_null(column: str) -> _Check:
    return _Check(
        NOT_NULL, column, "a value", lambda gxe: gxe.ExpectColumnValuesToNotBeNull(column=column)
    )


def _at_least_zero(column: str) -> _Check:
    return _Check(
        AT_LEAST,
        column,
        ">= 0",
        lambda gxe: gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0),
    )


def _not_before(end: str, start: str) -> _Check:
    return _Check(
        NOT_BEFORE,
        end,
        f">= {start}",
        lambda gxe: gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=end, column_B=start, or_equal=True, ignore_row_if="either_value_is_missing"
        ),
    )


SUITES: dict[str, list[_Check]] = {
    "focus": [
        _not_null("charge_period_start"),
        _not_null("charge_period_end"),
        _not_null("billed_cost"),
        _not_before("charge_period_end", "charge_period_start"),
    ],
    "slurm_job": [
        _at_least_zero("gpus"),
        _not_before("end_time", "start_time"),
    ],
    "annotation_invoice": [
        _at_least_zero("quantity"),
        _not_null("amount"),
    ],
    "run_manifest": [
        _at_least_zero("gpus"),
        _not_before("end_time", "start_time"),
    ],
    "opencost_allocation": [
        _at_least_zero("gpu_hours"),
        _not_before("end_time", "start_time"),
    ],
}
for _suite in SUITES.values():
    _suite[:0] = [_not_null(field.name) for field in LINEAGE]


def expected(kind: str, expectation: str, column: str) -> str:
    """What the check ``expectation`` on ``column`` of ``kind`` wants, in words."""
    for check in SUITES[kind]:
        if (check.expectation, check.column) == (expectation, column):
            return check.expected
    raise KeyError((kind, expectation, column))


def _violations(check: _Check, table: pa.Table) -> int:
    """Rows of ``table`` that break ``check``, counted with Arrow compute (same rule as GX:
    not-null counts nulls; between and pair checks ignore missing values)."""
    import pyarrow.compute as pc

    if check.column not in table.column_names:
        return 1  # let GX say what is wrong with the batch
    column = table[check.column]
    if check.expectation == NOT_NULL:
        return column.null_count
    if check.expectation == AT_LEAST:
        return int(pc.sum(pc.less(column, pa.scalar(0).cast(column.type))).as_py() or 0)
    if check.expectation == NOT_BEFORE:
        start = check.expected.removeprefix(">= ")
        return int(pc.sum(pc.less(column, table[start])).as_py() or 0)
    return 1


def validate_table(kind: str, table: pa.Table) -> list[Flag]:
    """:func:`validate_batch` on an Arrow table, without paying for GX on clean batches.

    Each check of the suite is first counted over the whole batch with Arrow compute: a count
    of zero for every check proves the property the suite asserts, so the batch passes. A batch
    with any violating row goes to Great Expectations as a pandas frame, so the rows flagged,
    their order and their quarantine reasons are GX's own. (GX costs ~0.3 s per batch; a
    nightly refresh of a large lab has thousands of batches, almost all clean.)
    """
    if table.num_rows == 0 or not any(_violations(c, table) for c in SUITES[kind]):
        return []
    return validate_batch(kind, table.to_pandas())


def validate_batch(kind: str, df: pd.DataFrame) -> list[Flag]:
    """Run the suite of raw ``kind`` on ``df``; one :class:`Flag` per (row, failed check).

    Flags come in suite order, so the first flag of a row is its most basic problem.
    """
    if df.empty:
        return []
    from llmledger.validation import expectations, unexpected_indexes

    gxe = expectations()
    checks = SUITES[kind]
    flagged = unexpected_indexes(f"raw_{kind}", df, [check.build(gxe) for check in checks])
    return [
        Flag(index, check.expectation, check.column, df.at[index, check.column])
        for check, indexes in zip(checks, flagged, strict=True)
        for index in indexes
    ]
