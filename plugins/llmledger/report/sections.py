"""The sections of the quarterly allocation review, each read from the marts.

Every section names the marts it needs. When one is not in the warehouse (a mart another
release adds), the section says so in words and the rest of the report is built as usual.
Sums are done by DuckDB on DECIMAL(38, 10); ratios and changes in Python ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from llmledger.report import charts
from llmledger.report import fmt as F
from llmledger.report.model import Chart, Column, Section, Table
from llmledger.report.quarters import Quarter

ZERO = Decimal(0)
UNKNOWN_ACTIVITIES = ("untagged", "idle")
TOP_UNTAGGED_JOBS = 15
CHART_MOVERS = 10
GENERIC_ROW_LIMIT = 500


class Warehouse:
    """A read-only connection plus the list of tables it holds."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.tables = {
            (schema, name): None
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }

    def has(self, name: str, schema: str = "main") -> bool:
        return (schema, name) in self.tables

    def missing(self, *names: str) -> list[str]:
        return [name for name in names if not self.has(name)]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def columns(self, name: str, schema: str = "main") -> list[tuple[str, str]]:
        return [
            (col, str(dtype).upper())
            for col, dtype in self.rows(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            )
        ]

    def find(self, *patterns: str) -> list[str]:
        """Mart tables (schema main) whose name contains any of ``patterns``."""
        return sorted(
            name
            for schema, name in self.tables
            if schema == "main" and any(p in name for p in patterns)
        )


def _unavailable(marts: Sequence[str]) -> str:
    names = ", ".join(marts)
    verb = "is" if len(marts) == 1 else "are"
    return (
        f"Not available: {names} {verb} not in this warehouse yet, so this section has "
        "nothing to show. It fills in once a release that builds it has run."
    )


def _ratio(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    if numerator is None or not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


def _dsum(values: Sequence[Any]) -> Decimal:
    return sum((Decimal(v) for v in values if v is not None), ZERO)


@dataclass
class Headline:
    """The review's headline figures, raw (for tests and extracts) and as displayed."""

    values: dict[str, tuple[str, Any, str]] = field(default_factory=dict)

    def add(self, key: str, label: str, value: Any, kind: str) -> None:
        self.values[key] = (label, value, kind)

    def facts(self) -> list[tuple[str, str]]:
        return [(label, F.display(value, kind)) for label, value, kind in self.values.values()]


# --- spend by activity / model generation ----------------------------------------------------


def _spend_by(wh: Warehouse, quarter: Quarter, dim: str) -> list[tuple[Any, ...]]:
    ytd = [str(q) for q in quarter.year_to_date]
    rows = wh.rows(
        f"""
        select {dim} as key,
               coalesce(sum(cost_usd) filter (where quarter = ?), 0) as this_quarter,
               coalesce(sum(cost_usd) filter (where quarter = ?), 0) as previous_quarter,
               coalesce(sum(cost_usd) filter (where list_contains(?, quarter)), 0) as ytd
        from fct_quarterly_allocation
        where quarter = ? or quarter = ? or list_contains(?, quarter)
        group by {dim}
        order by this_quarter desc, previous_quarter desc, key
        """,
        [str(quarter), str(quarter.previous), ytd, str(quarter), str(quarter.previous), ytd],
    )
    return [
        (key, this, prev, this - prev, _ratio(this - prev, prev) if prev else None, ytd_)
        for key, this, prev, ytd_ in rows
    ]


def spend_sections(wh: Warehouse, quarter: Quarter, headline: Headline) -> list[Section]:
    """Spend by activity and by model generation: this quarter, the previous one, change, YTD."""
    out = []
    for dim, label, title in (
        ("activity", "Activity", "Spend by activity"),
        ("model_generation", "Model generation", "Spend by model generation"),
    ):
        section = Section(
            id=f"spend-by-{dim.replace('_', '-')}",
            title=title,
            intro=(
                f"All spend as incurred in {quarter} (GPU allocation, idle capacity, direct "
                f"billing, annotation), beside {quarter.previous} and {quarter.year} year to "
                "date. USD."
                + (
                    " 'unassigned' is spend not tied to a generation (datasets, idle, overhead)."
                    if dim == "model_generation"
                    else ""
                )
            ),
        )
        if wh.missing("fct_quarterly_allocation"):
            section.unavailable = _unavailable(["fct_quarterly_allocation"])
            out.append(section)
            continue
        rows = _spend_by(wh, quarter, dim)
        totals = [_dsum([r[i] for r in rows]) for i in (1, 2, 3, 5)]
        table = Table(
            id=f"spend_by_{dim}",
            title=f"{title}, {quarter}",
            columns=[
                Column(dim, label),
                Column("cost_usd", f"{quarter}", F.MONEY),
                Column("previous_quarter_usd", f"{quarter.previous}", F.MONEY),
                Column("change_usd", "Change", F.MONEY),
                Column("change_pct", "Change %", F.CHANGE),
                Column("year_to_date_usd", f"{quarter.year} YTD", F.MONEY),
            ],
            rows=rows,
            total=(
                "Total",
                totals[0],
                totals[1],
                totals[2],
                _ratio(totals[2], totals[1]),
                totals[3],
            ),
        )
        section.tables.append(table)
        if rows:
            section.charts.append(
                Chart(
                    id=f"chart_{table.id}",
                    title=f"{title}: {quarter} and {quarter.previous}",
                    svg=charts.bars(
                        f"chart_{table.id}",
                        f"{title}: {quarter} and {quarter.previous}",
                        [r[0] for r in rows],
                        [
                            (str(quarter), [r[1] for r in rows]),
                            (str(quarter.previous), [r[2] for r in rows]),
                        ],
                        F.money,
                    ),
                    table_id=table.id,
                )
            )
        if dim == "activity":
            headline.add("total_spend", f"Total spend {quarter} (USD)", totals[0], F.MONEY)
            headline.add(
                "previous_spend", f"Total spend {quarter.previous} (USD)", totals[1], F.MONEY
            )
            headline.add(
                "ytd_spend", f"Spend {quarter.year} year to date (USD)", totals[3], F.MONEY
            )
            data = _dsum([r[1] for r in rows if str(r[0]).startswith("data.")])
            training = _dsum([r[1] for r in rows if str(r[0]).startswith("training.")])
            headline.add("data_spend", f"Data work incurred {quarter} (USD)", data, F.MONEY)
            headline.add("training_spend", f"Training incurred {quarter} (USD)", training, F.MONEY)
        out.append(section)
    return out


# --- data share ------------------------------------------------------------------------------


def data_share_section(wh: Warehouse, quarter: Quarter, headline: Headline) -> Section:
    section = Section(
        id="data-share",
        title="Data share per model generation",
        intro=(
            "Data cost (datasets amortized to the generation plus data work tagged to it) "
            "against training cost, to date: a generation's share spans every quarter it "
            "consumed data in. Compared with the target share and the break-even share 1 - 1/m "
            "(m = the generation's token-efficiency multiplier)."
        ),
    )
    if wh.missing("fct_data_share"):
        section.unavailable = _unavailable(["fct_data_share"])
        return section
    rows = wh.rows(
        """
        select model_generation, data_cost_usd, training_cost_usd, data_share, target_share,
               break_even_share, efficiency_multiplier
        from fct_data_share order by model_generation
        """
    )
    body = [
        (g, d, t, s, ts, be, (s - be) if s is not None and be is not None else None, m)
        for g, d, t, s, ts, be, m in rows
    ]
    total_data, total_training = _dsum([r[1] for r in rows]), _dsum([r[2] for r in rows])
    table = Table(
        id="data_share",
        title="Data share per model generation (to date)",
        columns=[
            Column("model_generation", "Model generation"),
            Column("data_cost_usd", "Data cost", F.MONEY),
            Column("training_cost_usd", "Training cost", F.MONEY),
            Column("data_share", "Data share", F.SHARE),
            Column("target_share", "Target", F.SHARE),
            Column("break_even_share", "Break-even", F.SHARE),
            Column("share_minus_break_even", "Share - break-even", F.SHARE),
            Column("efficiency_multiplier", "m", F.NUMBER),
        ],
        rows=body,
        total=(
            "Total",
            total_data,
            total_training,
            _ratio(total_data, total_data + total_training),
            None,
            None,
            None,
            None,
        ),
        empty_text="No model generations: add them to config/model_generations.csv.",
    )
    section.tables.append(table)
    if rows:
        title = "Data share vs target and break-even"
        section.charts.append(
            Chart(
                id="chart_data_share",
                title=title,
                svg=charts.shares(
                    "chart_data_share",
                    title,
                    [r[0] for r in rows],
                    [r[3] for r in rows],
                    [r[4] for r in rows],
                    [r[5] for r in rows],
                    F.share,
                ),
                table_id=table.id,
            )
        )
    for g, _, _, s, *_ in rows:
        headline.add(f"data_share_{g}", f"Data share {g}", s, F.SHARE)
    return section


# --- idle, untagged, coverage ----------------------------------------------------------------


def coverage_section(wh: Warehouse, quarter: Quarter, headline: Headline) -> Section:
    section = Section(
        id="idle-untagged",
        title="Idle and untagged spend, tag coverage",
        intro=(
            f"GPU pool cost of {quarter} per cluster: what reached a known activity, what went to "
            "jobs without a usable tag (untagged) and paid capacity no job used (idle). "
            "Tag coverage = GPU cost that reached a known activity / all GPU pool cost."
        ),
    )
    missing = wh.missing("fct_cost_allocation", "fct_idle_cost")
    if missing:
        section.unavailable = _unavailable(missing)
        return section
    bounds = [quarter.start, quarter.end]
    rows = wh.rows(
        """
        with alloc as (
            select cluster,
                   coalesce(sum(allocated_cost_usd) filter (
                       where activity not in ('untagged', 'idle')), 0) as known,
                   coalesce(sum(allocated_cost_usd) filter (
                       where activity in ('untagged', 'idle')), 0) as untagged
            from fct_cost_allocation where hour >= ? and hour < ? group by cluster
        ),
        idle as (
            select cluster, sum(idle_cost_usd) as idle
            from fct_idle_cost where hour >= ? and hour < ? group by cluster
        )
        select coalesce(a.cluster, i.cluster) as cluster, coalesce(a.known, 0),
               coalesce(a.untagged, 0), coalesce(i.idle, 0)
        from alloc as a full outer join idle as i on a.cluster = i.cluster
        order by 1
        """,
        bounds + bounds,
    )
    body = []
    for cluster, known, untagged, idle in rows:
        pool = known + untagged + idle
        body.append(
            (
                cluster,
                pool,
                known,
                untagged,
                idle,
                _ratio(known, pool),
                _ratio(known, known + untagged),
            )
        )
    known_t, untagged_t, idle_t = (_dsum([r[i] for r in rows]) for i in (1, 2, 3))
    pool_t = known_t + untagged_t + idle_t
    coverage = _ratio(known_t, pool_t)
    table = Table(
        id="gpu_cost_coverage",
        title=f"GPU pool cost by cluster, {quarter}",
        columns=[
            Column("cluster", "Cluster"),
            Column("gpu_pool_cost_usd", "GPU pool cost", F.MONEY),
            Column("known_activity_usd", "Known activity", F.MONEY),
            Column("untagged_usd", "Untagged", F.MONEY),
            Column("idle_usd", "Idle", F.MONEY),
            Column("tag_coverage", "Tag coverage", F.SHARE),
            Column("tagged_share_of_used", "Tagged share of used", F.SHARE),
        ],
        rows=body,
        total=(
            "Total",
            pool_t,
            known_t,
            untagged_t,
            idle_t,
            coverage,
            _ratio(known_t, known_t + untagged_t),
        ),
    )
    section.tables.append(table)
    if body:
        title = f"GPU pool cost by cluster, {quarter}: known activity, untagged, idle"
        section.charts.append(
            Chart(
                id="chart_gpu_cost_coverage",
                title=title,
                svg=charts.stacked(
                    "chart_gpu_cost_coverage",
                    title,
                    [r[0] for r in body],
                    [
                        ("known activity", [r[2] for r in body]),
                        ("untagged", [r[3] for r in body]),
                        ("idle", [r[4] for r in body]),
                    ],
                    F.money,
                ),
                table_id=table.id,
            )
        )
    headline.add("tag_coverage", f"Tag coverage {quarter}", coverage, F.SHARE)
    headline.add("untagged_spend", f"Untagged GPU cost {quarter} (USD)", untagged_t, F.MONEY)
    headline.add("idle_spend", f"Idle GPU cost {quarter} (USD)", idle_t, F.MONEY)
    section.tables.append(_top_untagged(wh, quarter))
    return section


def _top_untagged(wh: Warehouse, quarter: Quarter) -> Table:
    job_columns = ("job_name", "account", "user_name", "comment", "tag_problem")
    have = {c for c, _ in wh.columns("int_jobs_tagged", "intermediate")}
    detail = [c for c in job_columns if c in have]
    if detail and "job_key" in have:
        latest = "and j.is_latest_record" if "is_latest_record" in have else ""
        joined = f"""
            left join (
                select * from intermediate.int_jobs_tagged as j where true {latest}
                qualify row_number() over (partition by j.job_key order by j.job_key) = 1
            ) as j on j.job_key = u.job_key
        """
        select_detail = "".join(f", j.{c}" for c in detail)
    else:
        joined, select_detail = "", ""
    rows = wh.rows(
        f"""
        with u as (
            select job_key, cluster, job_id, sum(gpu_hours) as gpu_hours,
                   sum(allocated_cost_usd) as cost_usd
            from fct_cost_allocation
            where activity = 'untagged' and hour >= ? and hour < ?
            group by job_key, cluster, job_id
        )
        select u.cluster, u.job_id{select_detail}, u.gpu_hours, u.cost_usd
        from u {joined}
        order by u.cost_usd desc, u.job_key
        limit {TOP_UNTAGGED_JOBS}
        """,
        [quarter.start, quarter.end],
    )
    labels = {
        "job_name": "Job name",
        "account": "Account",
        "user_name": "User",
        "comment": "Comment",
        "tag_problem": "Why untagged",
    }
    return Table(
        id="top_untagged_jobs",
        title=f"Largest untagged jobs, {quarter} (top {TOP_UNTAGGED_JOBS})",
        columns=[
            Column("cluster", "Cluster"),
            Column("job_id", "Job"),
            *(Column(c, labels[c]) for c in detail),
            Column("gpu_hours", "GPU-hours", F.NUMBER),
            Column("cost_usd", "Cost", F.MONEY),
        ],
        rows=rows,
        note="Tag these jobs (Slurm comment or config/tag_mapping.csv) to raise coverage.",
        empty_text="No untagged GPU usage this quarter.",
    )


# --- human data ------------------------------------------------------------------------------


def annotation_section(wh: Warehouse, quarter: Quarter, headline: Headline) -> Section:
    section = Section(
        id="human-data",
        title="Human-data unit economics",
        intro=(
            f"Annotation invoices for work in {quarter}, per vendor, unit and dataset: units "
            "bought, cost (line amounts incl. platform fees, minus credits) and cost per unit, "
            f"beside {quarter.previous}'s cost per unit."
        ),
    )
    if wh.missing("fct_annotation_cost"):
        section.unavailable = _unavailable(["fct_annotation_cost"])
        return section
    query = """
        select vendor, unit_type, dataset_version, sum(line_count), sum(quantity), sum(cost_usd)
        from fct_annotation_cost where quarter = ?
        group by vendor, unit_type, dataset_version
        order by sum(cost_usd) desc, vendor, unit_type, dataset_version
    """
    rows = wh.rows(query, [str(quarter)])
    previous = {
        (v, u, d): _ratio(c, q) for v, u, d, _, q, c in wh.rows(query, [str(quarter.previous)])
    }
    body = []
    for vendor, unit, dataset, lines, quantity, cost in rows:
        unit_cost = _ratio(cost, quantity)
        before = previous.get((vendor, unit, dataset))
        body.append(
            (
                vendor,
                unit,
                dataset,
                lines,
                quantity,
                cost,
                unit_cost,
                before,
                _ratio(unit_cost - before, before) if unit_cost is not None and before else None,
            )
        )
    total = _dsum([r[5] for r in rows])
    table = Table(
        id="annotation_unit_costs",
        title=f"Annotation unit costs, {quarter}",
        columns=[
            Column("vendor", "Vendor"),
            Column("unit_type", "Unit"),
            Column("dataset_version", "Dataset"),
            Column("lines", "Lines", F.INTEGER),
            Column("quantity", "Units", F.NUMBER),
            Column("cost_usd", "Cost", F.MONEY),
            Column("unit_cost_usd", "Cost per unit", F.MONEY),
            Column("previous_unit_cost_usd", f"{quarter.previous} per unit", F.MONEY),
            Column("unit_cost_change_pct", "Change %", F.CHANGE),
        ],
        rows=body,
        total=("Total", None, None, sum(int(r[3]) for r in rows), None, total, None, None, None),
        empty_text="No annotation invoices for this quarter.",
    )
    section.tables.append(table)
    if body:
        by_vendor: dict[str, Decimal] = {}
        for r in body:
            by_vendor[r[0]] = by_vendor.get(r[0], ZERO) + r[5]
        vendors = sorted(by_vendor, key=lambda v: (-by_vendor[v], v))
        vendor_table = Table(
            id="annotation_cost_by_vendor",
            title=f"Annotation cost by vendor, {quarter}",
            columns=[Column("vendor", "Vendor"), Column("cost_usd", "Cost", F.MONEY)],
            rows=[(v, by_vendor[v]) for v in vendors],
            total=("Total", total),
        )
        title = f"Annotation cost by vendor, {quarter}"
        section.charts.append(
            Chart(
                id="chart_annotation_cost_by_vendor",
                title=title,
                svg=charts.bars(
                    "chart_annotation_cost_by_vendor",
                    title,
                    vendors,
                    [("cost", [by_vendor[v] for v in vendors])],
                    F.money,
                ),
                table_id=vendor_table.id,
            )
        )
        section.tables.insert(0, vendor_table)
    headline.add("annotation_spend", f"Human data {quarter} (USD)", total, F.MONEY)
    return section


# --- dataset balances ------------------------------------------------------------------------


def dataset_balance_section(wh: Warehouse, quarter: Quarter, headline: Headline) -> Section:
    section = Section(
        id="dataset-balances",
        title="Dataset balances",
        intro=(
            "Datasets are assets: their cost is capitalised and charged to the generations and "
            "derived datasets that consume them; what is not yet charged out is carried as a "
            "balance."
        ),
    )
    if wh.has("fct_dataset_balance"):
        rows = wh.rows(
            """
            select dataset_version, opening_usd, additions_usd, amortization_usd, closing_usd
            from fct_dataset_balance where quarter = ? order by dataset_version
            """,
            [str(quarter)],
        )
        body = [(*r, r[1] + r[2] - r[3] - r[4]) for r in rows]
        totals = [_dsum([r[i] for r in body]) for i in range(1, 6)]
        table = Table(
            id="dataset_balance",
            title=f"Dataset balance roll-forward, {quarter}",
            columns=[
                Column("dataset_version", "Dataset"),
                Column("opening_usd", "Opening", F.MONEY),
                Column("additions_usd", "Additions", F.MONEY),
                Column("amortization_usd", "Amortization", F.MONEY),
                Column("closing_usd", "Closing", F.MONEY),
                Column(
                    "roll_forward_difference_usd",
                    "Opening + additions - amortization - closing",
                    F.MONEY,
                ),
            ],
            rows=body,
            total=("Total", *totals),
            empty_text="No dataset balances for this quarter.",
        )
        value_index, value_label = 4, "closing balance"
        headline.add(
            "dataset_balance", f"Dataset balances, closing {quarter} (USD)", totals[3], F.MONEY
        )
    elif wh.has("dim_dataset"):
        section.intro += (
            " fct_dataset_balance (the quarterly roll-forward: opening, additions, amortization, "
            "closing) is not in this warehouse yet, so balances are shown to date, from "
            "dim_dataset."
        )
        rows = wh.rows(
            """
            select dataset_version, dataset_name, kind, own_cost_usd, inherited_cost_usd,
                   total_cost_usd, amortized_usd, balance_usd
            from dim_dataset order by dataset_version
            """
        )
        totals = [_dsum([r[i] for r in rows]) for i in range(3, 8)]
        table = Table(
            id="dataset_balance",
            title="Dataset cost, amortization and balance (to date)",
            columns=[
                Column("dataset_version", "Dataset"),
                Column("dataset_name", "Name"),
                Column("kind", "Kind"),
                Column("own_cost_usd", "Own cost", F.MONEY),
                Column("inherited_cost_usd", "Inherited", F.MONEY),
                Column("total_cost_usd", "Total cost", F.MONEY),
                Column("amortized_usd", "Amortized to date", F.MONEY),
                Column("balance_usd", "Balance", F.MONEY),
            ],
            rows=rows,
            total=("Total", None, None, *totals),
            empty_text="No datasets.",
        )
        value_index, value_label = 7, "balance"
        headline.add("dataset_balance", "Dataset balances to date (USD)", totals[4], F.MONEY)
    else:
        section.unavailable = _unavailable(["fct_dataset_balance", "dim_dataset"])
        return section
    section.tables.append(table)
    if table.rows:
        title = f"Dataset {value_label}"
        section.charts.append(
            Chart(
                id="chart_dataset_balance",
                title=title,
                svg=charts.bars(
                    "chart_dataset_balance",
                    title,
                    [r[0] for r in table.rows],
                    [(value_label, [r[value_index] for r in table.rows])],
                    F.money,
                ),
                table_id=table.id,
            )
        )
    return section


# --- reconciliation --------------------------------------------------------------------------


def reconciliation_section(wh: Warehouse, quarter: Quarter, headline: Headline) -> Section:
    section = Section(
        id="reconciliation",
        title="Reconciliation status",
        intro=(
            "Every check the warehouse runs, with how many scopes (pools, invoices, datasets, "
            "files) it covered and how many did not pass; then every scope that did not pass. "
            "A failing 'fail' check stops the nightly refresh; 'warn' reports."
        ),
    )
    if wh.missing("rpt_reconciliation"):
        section.unavailable = _unavailable(["rpt_reconciliation"])
        return section
    summary = wh.rows(
        """
        select check_name, severity, count(*) as scopes,
               count(*) filter (where passed) as passed,
               count(*) filter (where not passed or passed is null) as not_passed,
               max(abs(difference)) as max_abs_difference
        from rpt_reconciliation group by check_name, severity order by check_name, severity
        """
    )
    body = [
        (name, sev, scopes, ok, bad, diff, "passed" if bad == 0 else "NOT PASSED")
        for name, sev, scopes, ok, bad, diff in summary
    ]
    section.tables.append(
        Table(
            id="reconciliation_checks",
            title="Reconciliation checks",
            columns=[
                Column("check_name", "Check"),
                Column("severity", "Severity"),
                Column("scopes", "Scopes", F.INTEGER),
                Column("passed", "Passed", F.INTEGER),
                Column("not_passed", "Not passed", F.INTEGER),
                Column("max_abs_difference", "Largest |difference|", F.NUMBER),
                Column("status", "Status"),
            ],
            rows=body,
            empty_text="The warehouse has no reconciliation rows.",
        )
    )
    failures = wh.rows(
        """
        select check_name, severity, scope, expected, actual, difference
        from rpt_reconciliation where not passed or passed is null
        order by severity, abs(difference) desc nulls first, check_name, scope
        """
    )
    section.tables.append(
        Table(
            id="reconciliation_failures",
            title="Scopes that did not pass",
            columns=[
                Column("check_name", "Check"),
                Column("severity", "Severity"),
                Column("scope", "Scope"),
                Column("expected", "Expected", F.NUMBER),
                Column("actual", "Actual", F.NUMBER),
                Column("difference", "Difference", F.NUMBER),
            ],
            rows=failures,
            empty_text="None: every check passed.",
        )
    )
    headline.add("checks", "Reconciliation checks", len(body), F.INTEGER)
    headline.add("checks_not_passed", "Scopes not passed", len(failures), F.INTEGER)
    return section


# --- movers ----------------------------------------------------------------------------------


def movers_section(wh: Warehouse, quarter: Quarter, headline: Headline) -> Section:
    section = Section(
        id="movers",
        title=f"What changed since {quarter.previous}",
        intro=(
            f"Spend per activity and model generation, {quarter} against {quarter.previous}, "
            "largest movers first (by the size of the change, up or down)."
        ),
    )
    if wh.missing("fct_quarterly_allocation"):
        section.unavailable = _unavailable(["fct_quarterly_allocation"])
        return section
    rows = wh.rows(
        """
        select activity, model_generation,
               coalesce(sum(cost_usd) filter (where quarter = ?), 0) as this_quarter,
               coalesce(sum(cost_usd) filter (where quarter = ?), 0) as previous_quarter
        from fct_quarterly_allocation where quarter in (?, ?)
        group by activity, model_generation
        """,
        [str(quarter), str(quarter.previous), str(quarter), str(quarter.previous)],
    )
    body = sorted(
        (
            (a, g, prev, this, this - prev, _ratio(this - prev, prev) if prev else None)
            for a, g, this, prev in rows
            if this != prev
        ),
        key=lambda r: (-abs(r[4]), r[0], r[1]),
    )
    table = Table(
        id="movers",
        title=f"Movers, {quarter.previous} to {quarter}",
        columns=[
            Column("activity", "Activity"),
            Column("model_generation", "Model generation"),
            Column("previous_quarter_usd", f"{quarter.previous}", F.MONEY),
            Column("cost_usd", f"{quarter}", F.MONEY),
            Column("change_usd", "Change", F.MONEY),
            Column("change_pct", "Change %", F.CHANGE),
        ],
        rows=body,
        total=(
            "Total",
            None,
            _dsum([r[2] for r in body]),
            _dsum([r[3] for r in body]),
            _dsum([r[4] for r in body]),
            None,
        ),
        empty_text="Nothing changed.",
    )
    section.tables.append(table)
    if body:
        top = body[:CHART_MOVERS]
        title = f"Largest movers, {quarter.previous} to {quarter}"
        section.charts.append(
            Chart(
                id="chart_movers",
                title=title,
                svg=charts.bars(
                    "chart_movers",
                    title,
                    [f"{r[0]} / {r[1]}" for r in top],
                    [("change", [r[4] for r in top])],
                    F.money,
                ),
                table_id=table.id,
            )
        )
    return section


# --- marts other releases add: shown generically when present --------------------------------


def _kind_of(column: str, dtype: str) -> str:
    if dtype.startswith("DECIMAL") or dtype in ("DOUBLE", "FLOAT", "REAL"):
        if column.endswith("_usd") or "cost" in column:
            return F.MONEY
        if "share" in column:
            return F.SHARE
        return F.NUMBER
    if dtype in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT"):
        return F.INTEGER
    if dtype == "BOOLEAN":
        return F.BOOL
    return F.TEXT


_PERIOD_COLUMNS = ("quarter", "posting_period", "period")


def _generic_table(wh: Warehouse, name: str, quarter: Quarter) -> Table:
    cols = wh.columns(name)
    period = next((c for c in _PERIOD_COLUMNS if c in dict(cols)), None)
    where = f'where "{period}" = ?' if period else ""
    rows = wh.rows(
        f'select * from main."{name}" {where} order by all limit {GENERIC_ROW_LIMIT}',
        [str(quarter)] if period else [],
    )
    return Table(
        id=name,
        title=f"{name}" + (f", {period} {quarter}" if period else ""),
        columns=[Column(c, c, _kind_of(c, t)) for c, t in cols],
        rows=rows,
        note=f"First {GENERIC_ROW_LIMIT} rows." if len(rows) == GENERIC_ROW_LIMIT else None,
    )


def optional_section(
    wh: Warehouse,
    quarter: Quarter,
    section_id: str,
    title: str,
    intro: str,
    patterns: Sequence[str],
    expected: str,
) -> Section:
    section = Section(id=section_id, title=title, intro=intro)
    marts = wh.find(*patterns)
    if not marts:
        section.unavailable = (
            f"Not available: this warehouse has no {expected} mart yet (a mart whose name "
            f"contains {' or '.join(repr(p) for p in patterns)}), so there is nothing to show."
        )
        return section
    section.tables.extend(_generic_table(wh, name, quarter) for name in marts)
    return section


def flops_section(wh: Warehouse, quarter: Quarter, headline: Headline) -> Section:
    return optional_section(
        wh,
        quarter,
        "flops",
        "FLOPs cross-check flags",
        "Training runs whose implied model-FLOPs utilisation (6·N·D against allocated "
        "GPU-hours) falls outside the configured band.",
        ("flops",),
        "FLOPs cross-check",
    )


def adjustments_section(wh: Warehouse, quarter: Quarter, headline: Headline) -> Section:
    return optional_section(
        wh,
        quarter,
        "prior-period-adjustments",
        "Prior-period adjustments",
        f"Cost that arrived after its quarter was closed and posts to {quarter} while keeping "
        "its charge period.",
        ("prior_period", "adjustment"),
        "prior-period adjustment",
    )


SectionBuilder = Callable[[Warehouse, Quarter, Headline], Section | list[Section]]

SECTIONS: tuple[SectionBuilder, ...] = (
    spend_sections,
    data_share_section,
    coverage_section,
    annotation_section,
    dataset_balance_section,
    flops_section,
    reconciliation_section,
    adjustments_section,
    movers_section,
)
