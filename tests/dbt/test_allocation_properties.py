"""Property-based tests of the allocation model: conservation holds for any pools and jobs.

The model's SQL is compiled once by dbt, then run by DuckDB against random inputs that
hypothesis draws (pool costs and capacities, jobs with any GPU-hours, oversubscribed or not).
"""

from __future__ import annotations

import duckdb
import pytest
from dbt_compile import compile_models
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

UNIT = 10**10  # the models' integer money and GPU-hour unit: 1e-10
MODEL = "int_gpu_hours_allocated_to_pools"


@pytest.fixture(scope="module")
def allocation_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    return compile_models(tmp_path_factory.mktemp("compile_home"), MODEL)[MODEL]


pools = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10_000 * UNIT),  # pool cost units (<= $10k/hour)
        st.integers(min_value=0, max_value=64 * UNIT),  # capacity units (<= 64 GPU-hours)
    ),
    min_size=1,
    max_size=4,
)
jobs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # which pool
        st.integers(min_value=1, max_value=40 * UNIT),  # claimed GPU-hour units
    ),
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pools=pools, jobs=jobs, idle_policy=st.sampled_from(["show", "pro_rata"]))
# Found by this test: oversubscription floors every job to 0 units, the remainder must still be
# given out once (to the largest job), not also to the idle row.
@example(pools=[(1, 1)], jobs=[(0, 1), (0, 1)], idle_policy="show")
def test_allocated_plus_idle_is_the_pool_cost_exactly(allocation_sql, pools, jobs, idle_policy):
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse")
    con.execute("create schema warehouse.intermediate")
    con.execute("create schema warehouse.staging")
    con.execute("create table warehouse.staging.stg_config__policies (idle_policy varchar)")
    con.execute("insert into warehouse.staging.stg_config__policies values (?)", [idle_policy])
    con.execute(
        "create table warehouse.intermediate.int_cost_pools "
        "(cluster varchar, hour timestamp, pool_cost_units hugeint, capacity_units hugeint)"
    )
    con.execute(
        "create table warehouse.intermediate.int_job_gpu_hours_by_hour (job_key varchar, "
        "job_id varchar, cluster varchar, hour timestamp, activity varchar, "
        "model_generation varchar, dataset_version varchar, gpu_hour_units hugeint)"
    )
    for index, (cost, capacity) in enumerate(pools):
        con.execute(
            "insert into warehouse.intermediate.int_cost_pools values (?, '2026-01-01', ?, ?)",
            [f"p{index}", cost, capacity],
        )
    for index, (pool, units) in enumerate(jobs):
        con.execute(
            "insert into warehouse.intermediate.int_job_gpu_hours_by_hour values "
            "(?, ?, ?, '2026-01-01', 'training.sft', null, null, ?)",
            [f"j{index}", f"j{index}", f"p{pool % len(pools)}", units],
        )

    rows = con.execute(
        f"select cluster, row_kind, gpu_hour_units, cost_units from ({allocation_sql})"
    ).fetchall()

    for index, (cost, capacity) in enumerate(pools):
        cluster = f"p{index}"
        mine = [r for r in rows if r[0] == cluster]
        claimed = sum(u for p, u in jobs if f"p{p % len(pools)}" == cluster)
        # Conservation, to the unit: nothing created, nothing lost.
        assert sum(r[3] for r in mine) == cost
        # Never more GPU-hours handed out than were paid for, never negative.
        assert all(r[2] >= 0 for r in mine)
        used = sum(r[2] for r in mine if r[1] == "job")
        if capacity > 0:
            assert used <= capacity
            assert used == claimed or claimed > capacity
            idle_hours = sum(r[2] for r in mine if r[1] == "idle")
            assert used + idle_hours <= capacity
            if idle_policy == "pro_rata" and used > 0:
                # Idle capacity's cost went to the jobs: the idle rows carry none.
                assert all(r[3] == 0 for r in mine if r[1] == "idle")
        else:
            # No capacity: nothing can be allocated to jobs, the whole pool is idle.
            assert all(r[1] == "idle" for r in mine) and len(mine) == 1
