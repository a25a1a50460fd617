"""Great Expectations checks on the built marts: conservation, reconciliation, ranges, taxonomy.

The warehouse is opened read-only and no mart is read whole: DuckDB computes, per pool
(cluster, hour), the sums and minimums the properties are about, and per allocation activity a
count and an example row; those aggregates (bounded by pools and activities, not by rows; money
stays ``Decimal``) are what the GX expectations check, and they prove the same properties: every
row's GPU-hours are >= 0 iff every pool's minimum is, every row's activity is in the taxonomy
iff every distinct activity is. The frames are read side by side, and a check runs as soon as
its frames are in. Conservation is recomputed here from the marts themselves rather than
trusted from ``rpt_reconciliation``, so a bug in the dbt reconciliation model cannot hide a bug
in allocation.

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
    try:
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
    finally:
        frames.close()
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


class _Frames:
    """The frames of :data:`FRAMES`, read side by side, each on its own cursor of one read-only
    connection: a check runs as soon as the frames it needs are read, while DuckDB computes the
    others (the pool aggregate is most of the reading on a large lab). ``frames[name]`` waits
    for that frame; :meth:`close` waits for every read, then closes the connection."""

    def __init__(self, con: Any, queries: dict[str, str]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._con = con
        pool = ThreadPoolExecutor(max_workers=max(len(queries), 1), thread_name_prefix="frame")
        try:
            self._reads = {name: pool.submit(self._read, sql) for name, sql in queries.items()}
        finally:
            pool.shutdown(wait=False)

    def _read(self, sql: str) -> pd.DataFrame:
        cursor = self._con.cursor()
        try:
            return _objects(cursor.sql(sql).to_arrow_table())
        finally:
            cursor.close()

    def __contains__(self, name: object) -> bool:
        return name in self._reads

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self._reads[name].result()

    def close(self) -> None:
        from concurrent.futures import wait

        try:
            wait(list(self._reads.values()))
        finally:
            self._con.close()


def _objects(table: Any) -> pd.DataFrame:
    """An Arrow table as a frame of Python objects, the values DuckDB's ``fetchall`` gives
    (``Decimal`` money, ``datetime`` hours, ``int`` counts, ``None`` for null), built in C++:
    a third of the time of ``fetchall`` for the 33,000 reconciliation rows of a large lab."""
    frame = table.to_pandas(
        integer_object_nulls=True, date_as_object=True, timestamp_as_object=True
    )
    return frame.astype(object)


def _read_tables(home: Home) -> tuple[_Frames, list[Finding]]:
    """The frames the checks run on (see :data:`FRAMES`), being read, and the tables found
    missing. The caller closes the frames (:meth:`_Frames.close`)."""
    from llmledger.warehouse import connect_readonly

    try:
        con = connect_readonly(home)
    except FileNotFoundError as exc:
        raise ValidationFailed(str(exc)) from exc
    missing: list[Finding] = []
    queries: dict[str, str] = {}
    try:
        located = con.execute(
            "select table_name, table_schema, column_name from information_schema.columns"
        ).fetchall()
        columns_of: dict[str, dict[str, set[str]]] = {}
        for table, schema, column in located:
            columns_of.setdefault(table, {}).setdefault(schema, set()).add(column)
        where: dict[str, str] = {}  # table -> "schema"."table"
        optional: dict[str, list[str]] = {}
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
            where[table] = f'"{schema}"."{table}"'
            optional[table] = [c for c in OPTIONAL_COLUMNS.get(table, ()) if c in schemas[schema]]
        for frame, (tables, sql) in FRAMES.items():
            if all(table in where for table in tables):
                extra = "".join(f', "{c}"' for c in optional.get(tables[0], []))
                queries[frame] = sql.format(optional=extra, **where)
    except BaseException:
        con.close()
        raise
    return _Frames(con, queries), missing


# The frames the checks run on: (tables read, SQL). Each is bounded by pools, activities,
# quarters or reconciliation rows, never by the number of allocation rows.
FRAMES: dict[str, tuple[tuple[str, ...], str]] = {
    "rpt_reconciliation": (
        ("rpt_reconciliation",),
        "select check_name, scope, expected, actual, difference, passed{optional} "
        "from {rpt_reconciliation}",
    ),
    "fct_quarterly_allocation": (
        ("fct_quarterly_allocation",),
        "select quarter, activity, model_generation, cost_usd from {fct_quarterly_allocation}",
    ),
    # One row per pool (cluster, hour) that any of the three tables mentions.
    "pools": (
        ("int_cost_pools", "fct_cost_allocation", "fct_idle_cost"),
        """
        with pools as (
            select cluster, hour, coalesce(sum(pool_cost_usd), 0) as pool_cost_usd
            from {int_cost_pools} group by cluster, hour
        ),
        allocated as (
            select
                cluster,
                hour,
                coalesce(sum(allocated_cost_usd), 0) as allocated_cost_usd,
                min(gpu_hours) as min_gpu_hours,
                arg_min(job_id, gpu_hours) as min_gpu_hours_job,
                count(*) filter (where gpu_hours < 0) as negative_gpu_hours_rows,
                count(*) as allocation_rows
            from {fct_cost_allocation} group by cluster, hour
        ),
        idle as (
            select
                cluster,
                hour,
                coalesce(sum(idle_cost_usd), 0) as idle_cost_usd,
                min(idle_gpu_hours) as min_idle_gpu_hours,
                count(*) as idle_rows
            from {fct_idle_cost} group by cluster, hour
        ),
        pool_keys as (
            select cluster, hour from pools
            union select cluster, hour from allocated
            union select cluster, hour from idle
        )
        select
            k.cluster,
            k.hour,
            coalesce(p.pool_cost_usd, 0) as pool_cost_usd,
            coalesce(a.allocated_cost_usd, 0) as allocated_cost_usd,
            coalesce(i.idle_cost_usd, 0) as idle_cost_usd,
            a.min_gpu_hours,
            a.min_gpu_hours_job,
            coalesce(a.negative_gpu_hours_rows, 0) as negative_gpu_hours_rows,
            coalesce(a.allocation_rows, 0) as allocation_rows,
            i.min_idle_gpu_hours,
            coalesce(i.idle_rows, 0) as idle_rows
        from pool_keys as k
        left join pools as p
            on k.cluster is not distinct from p.cluster and k.hour is not distinct from p.hour
        left join allocated as a
            on k.cluster is not distinct from a.cluster and k.hour is not distinct from a.hour
        left join idle as i
            on k.cluster is not distinct from i.cluster and k.hour is not distinct from i.hour
        where k.cluster is not null and k.hour is not null
        order by k.cluster, k.hour
        """,
    ),
    # One row per distinct activity of fct_cost_allocation, with an example row.
    "allocation_activities": (
        ("fct_cost_allocation",),
        """
        select
            activity,
            count(*) as allocation_rows,
            arg_min(job_id, hour) as job_id,
            arg_min(cluster, hour) as cluster,
            min(hour) as hour
        from {fct_cost_allocation}
        group by activity
        order by activity nulls first
        """,
    ),
}


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
    # Mart rows the frame stands for (its own length unless it is an aggregate).
    covers: Callable[[pd.DataFrame], int] = len

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
        return CheckOutcome(name, severity, self.description, int(self.covers(frame)), findings)


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
    pools = frames["pools"].copy()
    pools["difference"] = (
        pools["allocated_cost_usd"] + pools["idle_cost_usd"] - pools["pool_cost_usd"]
    )
    pools["abs_difference"] = pools["difference"].map(abs)
    return pools


def _rows(column: str) -> Callable[[pd.DataFrame], int]:
    return lambda frame: int(sum(frame[column]))


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
        ("pools",),
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
        "fct_cost_allocation.gpu_hours >= 0 (each pool's minimum)",
        ("pools",),
        lambda f: f["pools"][f["pools"]["allocation_rows"] > 0],
        _not_below_zero("min_gpu_hours"),
        lambda row: Finding(
            "allocation_gpu_hours_not_negative",
            f"job {row['min_gpu_hours_job']} {row['cluster']} {_when(row['hour'])}",
            f"difference {row['min_gpu_hours']} (gpu_hours below 0"
            + (
                f"; {row['negative_gpu_hours_rows']} rows of this pool are"
                if row["negative_gpu_hours_rows"] > 1
                else ""
            )
            + ")",
        ),
        _rows("allocation_rows"),
    ),
    _Check(
        "idle_gpu_hours_not_negative",
        FAIL,
        "fct_idle_cost.idle_gpu_hours >= 0 (each pool's minimum)",
        ("pools",),
        lambda f: f["pools"][f["pools"]["idle_rows"] > 0],
        _not_below_zero("min_idle_gpu_hours"),
        lambda row: Finding(
            "idle_gpu_hours_not_negative",
            f"{row['cluster']} {_when(row['hour'])}",
            f"difference {row['min_idle_gpu_hours']} (idle_gpu_hours below 0)",
        ),
        _rows("idle_rows"),
    ),
    _Check(
        "allocation_activity_in_taxonomy",
        FAIL,
        "fct_cost_allocation.activity is one of llmledger.taxonomy.ACTIVITIES (each distinct "
        "value)",
        ("allocation_activities",),
        lambda f: f["allocation_activities"],
        _in_taxonomy,
        lambda row: Finding(
            "allocation_activity_in_taxonomy",
            f"job {row['job_id']} {row['cluster']} {_when(row['hour'])}",
            f"activity {row['activity']!r} is not in the taxonomy "
            f"({row['allocation_rows']} row(s) of fct_cost_allocation)",
        ),
        _rows("allocation_rows"),
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
