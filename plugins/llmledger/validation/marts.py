"""Great Expectations checks on the built marts: conservation, reconciliation, ranges, taxonomy.

The warehouse is opened read-only, the tables are read into pandas (money stays ``Decimal``)
and the connection is closed before any check runs. Conservation is recomputed here from the
marts themselves rather than trusted from ``rpt_reconciliation``, so a bug in the dbt
reconciliation model cannot hide a bug in allocation.

Every check has a severity: a failing ``fail`` check raises :class:`ValidationFailed` (the
pipeline stops), a failing ``warn`` check is logged and the pipeline goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmledger.paths import Home
from llmledger.taxonomy import ACTIVITIES

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

FAIL = "fail"
WARN = "warn"
# The tolerance dbt uses (var reconciliation_tolerance_usd): floor rounding of pro-rata splits.
TOLERANCE_USD = 0.000001
MAX_LINES_PER_CHECK = 50

TABLES: dict[str, tuple[str, ...]] = {
    "rpt_reconciliation": ("check_name", "scope", "expected", "actual", "difference", "passed"),
    "fct_cost_allocation": (
        "job_id",
        "cluster",
        "hour",
        "gpu_hours",
        "allocated_cost_usd",
        "activity",
    ),
    "fct_idle_cost": ("cluster", "hour", "idle_gpu_hours", "idle_cost_usd"),
    "int_cost_pools": ("cluster", "hour", "pool_cost_usd", "capacity_gpu_hours"),
    "fct_quarterly_allocation": ("quarter", "activity", "model_generation", "cost_usd"),
}
# Read when present: a reconciliation row may carry its own severity.
OPTIONAL_COLUMNS = {"rpt_reconciliation": ("severity",)}


class ValidationFailed(Exception):
    """A fail-severity check failed; the message names each check, scope and difference."""

    def __init__(self, message: str, result: MartValidationResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class Finding:
    """One failing row of a check."""

    check: str
    scope: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check} [{self.scope}] {self.detail}"


@dataclass(frozen=True)
class CheckOutcome:
    """The outcome of one check: passed when it has no findings."""

    name: str
    severity: str
    description: str
    rows_checked: int
    findings: tuple[Finding, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        """The findings as text, capped so a systematic failure stays readable."""
        shown = [f"  {finding}" for finding in self.findings[:MAX_LINES_PER_CHECK]]
        if len(self.findings) > MAX_LINES_PER_CHECK:
            shown.append(f"  ... and {len(self.findings) - MAX_LINES_PER_CHECK} more")
        return shown


@dataclass(frozen=True)
class MartValidationResult:
    """Every check's outcome, in the order they ran."""

    outcomes: tuple[CheckOutcome, ...]

    @property
    def failures(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.passed and o.severity == FAIL]

    @property
    def warnings(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.passed and o.severity == WARN]

    @property
    def passed(self) -> bool:
        """True when no fail-severity check failed (warnings allowed)."""
        return not self.failures

    def report(self) -> str:
        """One line per check (PASS / WARN / FAIL), followed by its findings."""
        out: list[str] = []
        for outcome in self.outcomes:
            status = "PASS" if outcome.passed else outcome.severity.upper()
            out.append(
                f"{status} {outcome.name}: {outcome.description} ({outcome.rows_checked} rows)"
            )
            out.extend(outcome.lines())
        return "\n".join(out)


def validate_marts(home: Home | str | os.PathLike[str] | None) -> MartValidationResult:
    """Run every mart check on the warehouse of ``home``.

    Raises :class:`ValidationFailed` if a fail-severity check fails, or if the warehouse or
    one of the tables the checks need is missing; otherwise returns the outcomes (warnings
    included) for logging.
    """
    home = home if isinstance(home, Home) else Home.resolve(home)
    frames, missing = _read_tables(home)
    outcomes: list[CheckOutcome] = []
    if missing:
        outcomes.append(
            CheckOutcome(
                "tables_present",
                FAIL,
                "the tables these checks read exist",
                len(TABLES),
                tuple(missing),
            )
        )
    for check in CHECKS:
        if all(table in frames for table in check.tables):
            outcomes.extend(check.run(frames))
    result = MartValidationResult(tuple(outcomes))
    for outcome in result.outcomes:
        level = (
            logging.INFO
            if outcome.passed
            else (logging.WARNING if outcome.severity == WARN else logging.ERROR)
        )
        log.log(
            level,
            "%s %s (%d rows)",
            "PASS" if outcome.passed else outcome.severity.upper(),
            outcome.name,
            outcome.rows_checked,
        )
        for line in outcome.lines():
            log.log(level, "%s", line)
    if result.failures:
        lines = [f"mart validation failed ({len(result.failures)} fail-severity check(s)):"]
        for outcome in result.failures:
            lines.append(f"{outcome.name}: {outcome.description}")
            lines.extend(outcome.lines())
        raise ValidationFailed("\n".join(lines), result)
    return result


def _read_tables(home: Home) -> tuple[dict[str, pd.DataFrame], list[Finding]]:
    import pandas as pd

    from llmledger.warehouse import connect_readonly

    try:
        con = connect_readonly(home)
    except FileNotFoundError as exc:
        raise ValidationFailed(str(exc)) from exc
    frames: dict[str, pd.DataFrame] = {}
    missing: list[Finding] = []
    try:
        located = con.execute(
            "select table_name, table_schema, column_name from information_schema.columns"
        ).fetchall()
        columns_of: dict[str, dict[str, set[str]]] = {}
        for table, schema, column in located:
            columns_of.setdefault(table, {}).setdefault(schema, set()).add(column)
        for table, needed in TABLES.items():
            schemas = columns_of.get(table)
            if not schemas:
                missing.append(
                    Finding(
                        "tables_present",
                        table,
                        f"table {table} is missing from {home.warehouse.name}: "
                        "run `llmledger build` first",
                    )
                )
                continue
            # Marts live in main; a same-named table elsewhere is a leftover.
            schema = "main" if "main" in schemas else sorted(schemas)[0]
            absent = [c for c in needed if c not in schemas[schema]]
            if absent:
                missing.append(
                    Finding(
                        "tables_present",
                        f"{schema}.{table}",
                        f"missing column(s) {', '.join(absent)}",
                    )
                )
                continue
            wanted = list(needed) + [
                c for c in OPTIONAL_COLUMNS.get(table, ()) if c in schemas[schema]
            ]
            select = ", ".join(f'"{c}"' for c in wanted)
            rows = con.execute(f'select {select} from "{schema}"."{table}"').fetchall()
            frames[table] = pd.DataFrame(rows, columns=wanted, dtype=object)
    finally:
        con.close()
    return frames, missing


def _money(value: Any) -> str:
    if value is None:
        return "null"
    number = Decimal(str(value))
    if number == number.quantize(Decimal("0.01")) or abs(number) >= 1:
        return f"{number:.2f}"
    return f"{number.normalize():f}"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)


@dataclass(frozen=True)
class _Check:
    name: str
    severity: str
    description: str
    tables: tuple[str, ...]
    frame: Callable[[dict[str, pd.DataFrame]], pd.DataFrame]
    expectations: Callable[[Any], Sequence[Any]]  # gx expectations module -> expectations
    finding: Callable[[Any], Finding]  # failing row (a pandas Series) -> finding

    def run(self, frames: dict[str, pd.DataFrame]) -> list[CheckOutcome]:
        frame = self.frame(frames)
        return [self.outcome(frame, self.name, self.severity)]

    def outcome(self, frame: pd.DataFrame, name: str, severity: str) -> CheckOutcome:
        if frame.empty:
            return CheckOutcome(name, severity, self.description, 0)
        from llmledger.validation import expectations, unexpected_indexes

        flagged = unexpected_indexes(name, frame, self.expectations(expectations()))
        rows = sorted({index for indexes in flagged for index in indexes})
        findings = tuple(self.finding(frame.loc[index]) for index in rows)
        return CheckOutcome(name, severity, self.description, len(frame), findings)


@dataclass(frozen=True)
class _ReconciliationCheck(_Check):
    """Rows of rpt_reconciliation; a ``severity`` column, when present, splits warn from fail."""

    def run(self, frames: dict[str, pd.DataFrame]) -> list[CheckOutcome]:
        frame = self.frame(frames)
        if "severity" not in frame.columns:
            return [self.outcome(frame, self.name, FAIL)]
        warn = frame["severity"].astype(str).str.lower() == WARN
        return [
            self.outcome(frame[~warn], self.name, FAIL),
            self.outcome(frame[warn], f"{self.name}_warn", WARN),
        ]


def _pool_conservation(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    def per_pool(table: str, column: str) -> pd.Series:
        frame = frames[table]
        values = frame[column].map(lambda v: Decimal(0) if v is None else Decimal(str(v)))
        return values.groupby([frame["cluster"], frame["hour"]]).sum()

    pools = pd.concat(
        {
            "pool_cost_usd": per_pool("int_cost_pools", "pool_cost_usd"),
            "allocated_cost_usd": per_pool("fct_cost_allocation", "allocated_cost_usd"),
            "idle_cost_usd": per_pool("fct_idle_cost", "idle_cost_usd"),
        },
        axis=1,
    )
    pools = pools.astype(object).where(pools.notna(), Decimal(0)).reset_index()
    pools["difference"] = (
        pools["allocated_cost_usd"] + pools["idle_cost_usd"] - pools["pool_cost_usd"]
    )
    pools["abs_difference"] = pools["difference"].map(abs)
    return pools


def _not_below_zero(column: str) -> Callable[[Any], Sequence[Any]]:
    return lambda gxe: [gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0)]


def _in_taxonomy(gxe: Any) -> Sequence[Any]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="activity"),
        gxe.ExpectColumnValuesToBeInSet(column="activity", value_set=list(ACTIVITIES)),
    ]


CHECKS: tuple[_Check, ...] = (
    _ReconciliationCheck(
        "rpt_reconciliation",
        FAIL,
        "every row of the reconciliation mart passed",
        ("rpt_reconciliation",),
        lambda f: f["rpt_reconciliation"],
        lambda gxe: [
            gxe.ExpectColumnValuesToNotBeNull(column="passed"),
            gxe.ExpectColumnValuesToBeInSet(column="passed", value_set=[True]),
        ],
        lambda row: Finding(
            str(row["check_name"]),
            str(row["scope"]),
            f"difference {_money(row['difference'])} (expected "
            f"{_money(row['expected'])}, actual {_money(row['actual'])})",
        ),
    ),
    _Check(
        "pool_conservation",
        FAIL,
        "per pool (cluster, hour): allocated + idle = pool cost, recomputed from the marts",
        ("int_cost_pools", "fct_cost_allocation", "fct_idle_cost"),
        _pool_conservation,
        lambda gxe: [
            gxe.ExpectColumnValuesToBeBetween(column="abs_difference", max_value=TOLERANCE_USD)
        ],
        lambda row: Finding(
            "pool_conservation",
            f"{row['cluster']} {_when(row['hour'])}",
            f"difference {_money(row['difference'])} (pool cost "
            f"{_money(row['pool_cost_usd'])}, allocated "
            f"{_money(row['allocated_cost_usd'])}, idle {_money(row['idle_cost_usd'])})",
        ),
    ),
    _Check(
        "allocation_gpu_hours_not_negative",
        FAIL,
        "fct_cost_allocation.gpu_hours >= 0",
        ("fct_cost_allocation",),
        lambda f: f["fct_cost_allocation"],
        _not_below_zero("gpu_hours"),
        lambda row: Finding(
            "allocation_gpu_hours_not_negative",
            f"job {row['job_id']} {row['cluster']} {_when(row['hour'])}",
            f"difference {row['gpu_hours']} (gpu_hours below 0)",
        ),
    ),
    _Check(
        "idle_gpu_hours_not_negative",
        FAIL,
        "fct_idle_cost.idle_gpu_hours >= 0",
        ("fct_idle_cost",),
        lambda f: f["fct_idle_cost"],
        _not_below_zero("idle_gpu_hours"),
        lambda row: Finding(
            "idle_gpu_hours_not_negative",
            f"{row['cluster']} {_when(row['hour'])}",
            f"difference {row['idle_gpu_hours']} (idle_gpu_hours below 0)",
        ),
    ),
    _Check(
        "allocation_activity_in_taxonomy",
        FAIL,
        "fct_cost_allocation.activity is one of llmledger.taxonomy.ACTIVITIES",
        ("fct_cost_allocation",),
        lambda f: f["fct_cost_allocation"],
        _in_taxonomy,
        lambda row: Finding(
            "allocation_activity_in_taxonomy",
            f"job {row['job_id']} {row['cluster']} {_when(row['hour'])}",
            f"activity {row['activity']!r} is not in the taxonomy",
        ),
    ),
    _Check(
        "quarterly_activity_in_taxonomy",
        FAIL,
        "fct_quarterly_allocation.activity is one of llmledger.taxonomy.ACTIVITIES",
        ("fct_quarterly_allocation",),
        lambda f: f["fct_quarterly_allocation"],
        _in_taxonomy,
        lambda row: Finding(
            "quarterly_activity_in_taxonomy",
            f"{row['quarter']} {row['model_generation'] or '-'}",
            f"activity {row['activity']!r} is not in the taxonomy",
        ),
    ),
    _Check(
        "untagged_cost",
        WARN,
        "no cost is left untagged (no tag_mapping rule or comment key matched)",
        ("fct_quarterly_allocation",),
        lambda f: f["fct_quarterly_allocation"][
            f["fct_quarterly_allocation"]["cost_usd"].map(lambda v: v is not None and v != 0)
        ],
        lambda gxe: [gxe.ExpectColumnValuesToNotBeInSet(column="activity", value_set=["untagged"])],
        lambda row: Finding(
            "untagged_cost",
            f"{row['quarter']} {row['model_generation'] or '-'}",
            f"difference {_money(row['cost_usd'])} USD untagged",
        ),
    ),
)
