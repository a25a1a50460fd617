"""The headline: data versus training cost per model generation, as a fixed-width text table.

Values stay ``Decimal`` from the warehouse to here; rounding happens only when a value is
rendered (money to cents, half up; shares to a tenth of a percent).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from llmledger.paths import Home

NOT_APPLICABLE = "n/a"

_HEADLINE_QUERY = """
    select model_generation, data_cost_usd, training_cost_usd, data_share, target_share,
           break_even_share
    from fct_data_share
    order by model_generation
"""


def money(value: Decimal | None) -> str:
    """Dollars with thousands separators, rounded half up to the cent."""
    if value is None:
        return NOT_APPLICABLE
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def share(value: Decimal | None) -> str:
    """A 0..1 share as a percentage with one decimal."""
    if value is None:
        return NOT_APPLICABLE
    percent = (Decimal(value) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{percent} %"


def format_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], right_align: Sequence[bool] | None = None
) -> str:
    """A plain fixed-width table: header, rule, rows. Cells are rendered with ``str``
    (``None`` as empty) and padded to the widest cell of their column."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    widths = [len(name) for name in columns]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    align = list(right_align) if right_align is not None else [False] * len(columns)

    def line(values: Sequence[str]) -> str:
        padded = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, align, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def render_headline(rows: Sequence[Sequence[Any]], warehouse: str) -> str:
    """The headline text for rows of (generation, data cost, training cost, data share,
    target share, break-even share)."""
    title = "LLM Ledger: data versus training cost per model generation (USD)"
    if not rows:
        return (
            f"{title}\n\nNo model generations in fct_data_share yet: add them to "
            f"config/model_generations.csv and rebuild.\n\nwarehouse: {warehouse}"
        )
    columns = [
        "model generation",
        "data cost",
        "training cost",
        "data share",
        "target",
        "break-even",
    ]
    body = [
        [
            generation,
            money(data),
            money(training),
            share(data_share),
            share(target),
            share(break_even),
        ]
        for generation, data, training, data_share, target, break_even in rows
    ]
    total_data = sum((Decimal(row[1] or 0) for row in rows), Decimal(0))
    total_training = sum((Decimal(row[2] or 0) for row in rows), Decimal(0))
    spent = total_data + total_training
    body.append(
        [
            "total",
            money(total_data),
            money(total_training),
            share(total_data / spent if spent else None),
            "",
            "",
        ]
    )
    table = format_table(columns, body, right_align=[False] + [True] * 5)
    # A rule above the totals line keeps it from reading as one more generation.
    lines = table.splitlines()
    lines.insert(len(lines) - 1, lines[1])
    return "\n".join([title, "", *lines, "", f"warehouse: {warehouse}"])


def headline(home: Home) -> str:
    """Read ``fct_data_share`` read-only and render the headline table, followed by the spend
    no generation carries (untagged usage, idle capacity) and the data share under the
    configured policies versus ``expense_on_first_use``, when the warehouse has them."""
    from llmledger.warehouse import connect_readonly

    con = connect_readonly(home)
    try:
        rows = con.execute(_HEADLINE_QUERY).fetchall()
        has_allocation = con.execute(_HAS_ALLOCATION_QUERY).fetchall()[0][0] > 0
        unattributed = con.execute(_UNATTRIBUTED_QUERY).fetchall() if has_allocation else None
        has_by_policy = con.execute(_HAS_BY_POLICY_QUERY).fetchall()[0][0] > 0
        by_policy = con.execute(_POLICY_COMPARISON_QUERY).fetchall() if has_by_policy else []
    finally:
        con.close()
    text = render_headline(rows, str(home.warehouse))
    body, _, footer = text.rpartition("\n\n")
    sections = [body]
    if unattributed is not None:
        sections.append(render_unattributed(unattributed))
    if by_policy:
        sections.append(render_policy_comparison(by_policy))
    return "\n\n".join([*sections, footer])


_HAS_ALLOCATION_QUERY = """
    select count(*) from information_schema.tables where table_name = 'fct_quarterly_allocation'
"""

# Both lines always, zero included: "untagged 0.00" is an answer too.
_UNATTRIBUTED_QUERY = """
    select kinds.activity, coalesce(sum(allocation.cost_usd), 0)
    from (values ('untagged', 1), ('idle', 2)) as kinds (activity, position)
    left join fct_quarterly_allocation as allocation on allocation.activity = kinds.activity
    group by kinds.activity, kinds.position
    order by kinds.position
"""

_UNATTRIBUTED_HELP = {
    "untagged": "usage no tag or rule matched (int_jobs_tagged.tag_problem says why)",
    "idle": "paid GPU capacity no job used (policy idle_policy)",
}


def render_unattributed(rows: Sequence[Sequence[Any]]) -> str:
    """Lines under the headline for spend that is in no generation's data or training cost:
    rows of (activity, cost), e.g. ``untagged`` and ``idle``."""
    table = format_table(
        ["not in any generation", "cost", "what it is"],
        [[activity, money(cost), _UNATTRIBUTED_HELP.get(activity, "")] for activity, cost in rows],
        right_align=[False, True, False],
    )
    return table


COMPARED_POLICY = "expense_on_first_use"

_HAS_BY_POLICY_QUERY = """
    select count(*) from information_schema.tables where table_name = 'fct_data_share_by_policy'
"""

_POLICY_COMPARISON_QUERY = f"""
    select
        configured.model_generation,
        configured.data_cost_usd,
        configured.data_share,
        compared.data_cost_usd,
        compared.data_share
    from fct_data_share_by_policy as configured
    inner join fct_data_share_by_policy as compared
        on configured.model_generation = compared.model_generation
    where configured.policy = 'configured' and compared.policy = '{COMPARED_POLICY}'
    order by configured.model_generation
"""


def points(value: Decimal) -> str:
    """A difference of two shares in percentage points, signed, one decimal, half up."""
    rounded = (value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{'+' if rounded >= 0 else ''}{rounded} pts"


def render_policy_comparison(rows: Sequence[Sequence[Any]]) -> str:
    """Data cost and share per generation under the configured amortization policies and under
    ``expense_on_first_use`` (the whole cost of a dataset on its first user), for rows of
    (generation, data cost, share, data cost first use, share first use)."""
    title = (
        "Data share by amortization policy: configured (each dataset's own policy) "
        f"versus {COMPARED_POLICY}"
    )
    columns = [
        "model generation",
        "data cost",
        "data share",
        "data cost (first use)",
        "data share (first use)",
        "difference",
    ]
    body = [
        [
            generation,
            money(data),
            share(data_share),
            money(first_data),
            share(first_share),
            NOT_APPLICABLE
            if data_share is None or first_share is None
            else points(Decimal(first_share) - Decimal(data_share)),
        ]
        for generation, data, data_share, first_data, first_share in rows
    ]
    table = format_table(columns, body, right_align=[False] + [True] * 5)
    return "\n".join([title, "", table])
