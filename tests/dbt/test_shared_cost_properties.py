"""Property-based test of the shared-cost distribution: for any shared charges (spanning any
months) and any jobs, every unit of a cluster's non-GPU shared cost is distributed exactly once.

The model's SQL is compiled once by dbt, then run by DuckDB against random inputs.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import duckdb
import pytest
from dbt_compile import compile_models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

UNIT = 10**10
MODEL = "int_shared_costs_distributed"
START = datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def shared_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    return compile_models(tmp_path_factory.mktemp("compile_shared"), MODEL)[MODEL]


charges = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1),  # cluster
        st.sampled_from(["storage", "network", "gpu"]),  # gpu: not shared, must be ignored
        st.integers(min_value=0, max_value=80 * 24 * 3600),  # start, seconds after Jan 1
        st.integers(min_value=0, max_value=70 * 24 * 3600),  # duration in seconds (0 allowed)
        st.integers(min_value=-50 * UNIT, max_value=5_000 * UNIT),  # cost units (credits too)
    ),
    min_size=1,
    max_size=6,
)
jobs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1),  # cluster
        st.integers(min_value=0, max_value=89),  # day of the hour it ran
        st.integers(min_value=0, max_value=3),  # which job
        st.integers(min_value=0, max_value=900 * UNIT),  # allocated GPU cost units
    ),
    max_size=10,
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(charges=charges, jobs=jobs)
def test_shared_cost_is_distributed_exactly(shared_sql, charges, jobs):
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse")
    con.execute("create schema warehouse.intermediate")
    con.execute(
        "create table warehouse.intermediate.int_billing_charges_converted (charge_key varchar, "
        "cluster varchar, tags varchar, shared_cost_type varchar, charge_period_start timestamp, "
        "charge_period_end timestamp, effective_cost_usd decimal(38, 10))"
    )
    con.execute(
        "create table warehouse.intermediate.int_gpu_hours_allocated_to_pools (cluster varchar,"
        " hour timestamp, row_kind varchar, job_key varchar, job_id varchar, activity varchar,"
        " model_generation varchar, dataset_version varchar, cost_units hugeint)"
    )
    for index, (cluster, kind, start, duration, units) in enumerate(charges):
        begin = START + timedelta(seconds=start)
        con.execute(
            "insert into warehouse.intermediate.int_billing_charges_converted values "
            "(?, ?, ?, ?, ?, ?, ?)",
            [
                f"s:{index}",
                f"c{cluster}",
                json.dumps({"cluster": f"c{cluster}", "cost_type": kind}),
                # As int_billing_charges_converted reads it from the tags: gpu is no shared type.
                None if kind == "gpu" else kind,
                begin,
                begin + timedelta(seconds=duration),
                Decimal(units) / UNIT,
            ],
        )
    for cluster, day, job, units in jobs:
        con.execute(
            "insert into warehouse.intermediate.int_gpu_hours_allocated_to_pools values "
            "(?, ?, 'job', ?, ?, 'evaluation', null, null, ?)",
            [f"c{cluster}", START + timedelta(days=day), f"j{job}", f"j{job}", units],
        )
    # An idle row receives nothing and is no basis for the split.
    con.execute(
        "insert into warehouse.intermediate.int_gpu_hours_allocated_to_pools values "
        "('c0', '2026-01-01', 'idle', null, null, 'idle', null, null, 1000)"
    )

    rows = con.execute(
        f"select cluster, shared_cost_type, row_kind, job_key, cost_units from ({shared_sql})"
    ).fetchall()

    for cluster in ("c0", "c1"):
        for kind in ("storage", "network"):
            billed = sum(u for c, k, _, _, u in charges if f"c{c}" == cluster and k == kind)
            mine = [r for r in rows if r[0] == cluster and r[1] == kind]
            # Conservation to the unit: all of it distributed, nothing created.
            assert sum(r[4] for r in mine) == billed
    assert not [r for r in rows if r[1] == "gpu"]
    # Only jobs receive shares; an unallocated row has no job.
    assert all((r[2] == "job") == (r[3] is not None) for r in rows)
    assert all(r[3] != "idle" for r in rows)
