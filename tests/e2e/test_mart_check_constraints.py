"""Mart columns with a closed set of values or a sign carry an enforced `check` constraint.

`dbt/models/marts/_marts__models.yml` declares them (GPU-hours never negative; a policy, a
consumer kind, a delivery style from its list) as contract constraints, not data tests: DuckDB
refuses a bad row on insert, so the build fails on the model that made it and leaves the table
as it was, and no test node scans the table again every night. These tests hold the demo
warehouse (built through Airflow and Cosmos) to that: DuckDB holds exactly the declared checks,
and a row breaking one (inserted into a copy) is refused naming the table and the check.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from llmledger.warehouse import connect_readonly

MARTS_YML = Path(__file__).resolve().parents[2] / "dbt" / "models" / "marts" / "_marts__models.yml"


def _declared_checks() -> set[tuple[str, str]]:
    return {
        (model["name"], constraint["expression"])
        for model in yaml.safe_load(MARTS_YML.read_text())["models"]
        for column in model.get("columns", [])
        for constraint in column.get("constraints", [])
        if constraint["type"] == "check"
    }


def _normalised(expression: str) -> str:
    """DuckDB prints a check as CHECK((x >= 0)), quoting some names ("policy"): compare bare."""
    return re.sub(r"[()\s\"]", "", expression.removeprefix("CHECK").lower())


def test_the_declared_checks_are_held_by_the_warehouse(demo_warehouse_home):
    declared = _declared_checks()
    # GPU-hours of allocation and idle cost; delivery style; consumer kinds; policy views.
    assert len(declared) == 9
    with connect_readonly(demo_warehouse_home) as con:
        held = con.execute(
            "select table_name, constraint_text from duckdb_constraints() "
            "where constraint_type = 'CHECK' and schema_name = 'main'"
        ).fetchall()
    assert {(table, _normalised(text)) for table, text in held} == {
        (table, _normalised(expression)) for table, expression in declared
    }


@pytest.mark.parametrize(
    ("table", "bad", "key"),
    [
        ("fct_cost_allocation", "-1 as gpu_hours", "job_key"),
        ("fct_cost_allocation", "-0.0000000001 as claimed_gpu_hours", "job_key"),
        ("fct_idle_cost", "-2 as idle_gpu_hours", "cluster"),
        ("fct_billing_charge", "'snapshot' as delivery_style", "charge_key"),
        ("fct_dataset_amortization", "'team' as consumer_kind", "consumer"),
        ("fct_data_share_by_policy", "'fifo' as policy", "model_generation"),
    ],
)
def test_a_row_breaking_a_check_is_refused(demo_warehouse_home, tmp_path, table, bad, key):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_home.warehouse, copy)
    column = bad.rsplit(" as ", 1)[1]
    con = duckdb.connect(str(copy))
    try:
        before = con.execute(f"select count(*) from {table}").fetchone()[0]
        assert before > 0
        # A new key, so the primary key does not refuse the row first.
        new_key = f"{key} || ':new' as {key}"
        replace = f"{bad}, {new_key}" if column != key else bad
        with pytest.raises(duckdb.ConstraintException, match=rf"CHECK.*{table}.*{column}"):
            con.execute(f"insert into {table} select * replace ({replace}) from {table} limit 1")
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == before
        # The same row with its own value is accepted: the bad value alone was refused.
        con.execute(f"insert into {table} select * replace ({new_key}) from {table} limit 1")
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == before + 1
    finally:
        con.close()
