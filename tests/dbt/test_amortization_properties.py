"""Property-based tests of dataset amortization: for any lineage graph, usage and policy,
every dataset's amortization to date + closing balance = its total cost, exactly.

The dataset models' SQL is compiled once by dbt, then run by DuckDB on random inputs drawn by
hypothesis: a random DAG of derived-from edges, generations consuming random datasets on
random dates, random own costs, and a random configured policy per dataset. Each scenario
(`configured` and one per policy) is checked.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest
from dbt_compile import compile_models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmledger import config

POLICIES = config.AMORTIZATION_POLICIES
SCENARIOS = ("configured", *POLICIES)
MODELS = (  # in dependency order
    "int_dataset_amortization_as_of",
    "int_dataset_consumption_rates",
    "int_dataset_cost_paths",
    "int_dataset_amortization_by_activity",
    "fct_dataset_balance_by_policy",
)
UNIT = Decimal("1e-10")
START = date(2026, 1, 1)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return compile_models(tmp_path_factory.mktemp("compile_home"), *MODELS)


@st.composite
def organisations(draw):
    n = draw(st.integers(min_value=1, max_value=5))
    datasets = [
        (
            f"d{i}",
            draw(st.integers(min_value=1, max_value=5000)),  # expected lifetime tokens
            draw(st.sampled_from(POLICIES)),
            draw(st.integers(min_value=1, max_value=12)),  # useful life months
        )
        for i in range(n)
    ]
    day = st.integers(min_value=0, max_value=400).map(lambda d: START + timedelta(days=d))
    tokens = st.integers(min_value=1, max_value=3000)
    edges = {}
    for child in range(1, n):  # parents have a lower index: no cycles
        for parent in draw(st.sets(st.integers(min_value=0, max_value=child - 1), max_size=2)):
            edges[(f"d{parent}", f"d{child}")] = ("dataset", draw(tokens), draw(day))
    for gen in range(draw(st.integers(min_value=0, max_value=3))):
        for ds in draw(st.sets(st.integers(min_value=0, max_value=n - 1), max_size=n)):
            edges[(f"d{ds}", f"g{gen}")] = ("model_generation", draw(tokens), draw(day))
    costs = [
        (
            f"d{draw(st.integers(min_value=0, max_value=n - 1))}",
            draw(st.sampled_from(("data.acquisition", "data.human"))),
            Decimal(draw(st.integers(min_value=0, max_value=10**14))) * UNIT,
            draw(day),
        )
        for _ in range(draw(st.integers(min_value=0, max_value=6)))
    ]
    return datasets, edges, costs


def run(compiled: dict[str, str], datasets, edges, costs) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse")
    for schema in ("staging", "intermediate", "main"):
        con.execute(f"create schema if not exists warehouse.{schema}")
    con.execute(
        "create table warehouse.staging.stg_config__datasets (dataset_version varchar, "
        "dataset_name varchar, kind varchar, tokens bigint, expected_lifetime_tokens bigint, "
        "amortization_policy varchar, description varchar, useful_life_months bigint)"
    )
    con.execute(
        "create table warehouse.staging.stg_config__dataset_consumption (dataset_version "
        "varchar, consumer varchar, consumer_kind varchar, tokens_consumed bigint, "
        "consumed_on date)"
    )
    con.execute(
        "create table warehouse.staging.stg_config__policies (default_amortization_policy "
        "varchar, default_useful_life_months bigint)"
    )
    con.execute("insert into warehouse.staging.stg_config__policies values ('straight_line', 24)")
    con.execute(
        "create table warehouse.intermediate.int_spend_ledger (dataset_version varchar, "
        "activity varchar, activity_group varchar, model_generation varchar, "
        "cost_usd decimal(38, 10), incurred_at timestamp, quarter varchar)"
    )
    for name, life, policy, months in datasets:
        con.execute(
            "insert into warehouse.staging.stg_config__datasets values "
            "(?, ?, 'other', 100, ?, ?, null, ?)",
            [name, name, life, policy, months],
        )
    for (ds, consumer), (kind, tokens, on) in edges.items():
        con.execute(
            "insert into warehouse.staging.stg_config__dataset_consumption values (?, ?, ?, ?, ?)",
            [ds, consumer, kind, tokens, on],
        )
    for ds, activity, cost, on in costs:
        quarter = f"{on.year}Q{(on.month - 1) // 3 + 1}"
        con.execute(
            "insert into warehouse.intermediate.int_spend_ledger values "
            "(?, ?, 'data', null, ?, ?, ?)",
            [ds, activity, cost, on, quarter],
        )
    for model in MODELS:
        schema = "main" if model.startswith("fct_") else "intermediate"
        con.execute(f"create table warehouse.{schema}.{model} as {compiled[model]}")
    return con


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(org=organisations())
def test_amortization_plus_balance_is_cost_for_every_dataset_and_policy(compiled, org):
    datasets, edges, costs = org
    con = run(compiled, datasets, edges, costs)
    w = "warehouse.intermediate"

    def table(sql: str) -> dict:
        return {tuple(r[:-1]): r[-1] for r in con.execute(sql).fetchall()}

    total = table(
        f"select scenario, dataset_version, sum(amount_units) from {w}.int_dataset_cost_paths "
        "group by all"
    )
    charged_out = table(
        f"select scenario, dataset_version, sum(amortization_units) "
        f"from {w}.int_dataset_amortization_by_activity group by all"
    )
    charged_in = table(
        f"select scenario, consumer, sum(amortization_units) "
        f"from {w}.int_dataset_amortization_by_activity where consumer_kind = 'dataset' "
        "group by all"
    )
    closing = table(
        "select policy, dataset_version, arg_max(closing_usd, quarter) "
        "from warehouse.main.fct_dataset_balance_by_policy group by all"
    )
    own = {}
    for ds, _, cost, _ in costs:
        own[ds] = own.get(ds, 0) + int(cost / UNIT)

    for scenario in SCENARIOS:
        for name, *_ in datasets:
            key = (scenario, name)
            cost = total.get(key, 0)
            out = charged_out.get(key, 0)
            # Inherited cost is, to the unit, what the parents charged it.
            assert cost == own.get(name, 0) + charged_in.get(key, 0)
            # Never charged out more than it cost; the balance to date is never negative.
            assert 0 <= out <= cost
            # amortization to date + closing balance = total cost (balance rolled forward).
            balance = closing.get(key, Decimal(0))
            assert Decimal(out) * UNIT + balance == Decimal(cost) * UNIT
        # Conservation across the lineage: own data work is expensed or still on a balance.
        expensed = con.execute(
            f"select coalesce(sum(amortization_units), 0) "
            f"from {w}.int_dataset_amortization_by_activity "
            "where scenario = ? and consumer_kind != 'dataset'",
            [scenario],
        ).fetchone()[0]
        balances = sum((v for (s, _), v in closing.items() if s == scenario), Decimal(0))
        assert Decimal(expensed) * UNIT + balances == Decimal(sum(own.values())) * UNIT

    # expense_on_first_use leaves nothing on a dataset that has a consumer.
    consumed = {ds for ds, _ in edges}
    for name in consumed:
        assert closing.get(("expense_on_first_use", name), Decimal(0)) == 0
