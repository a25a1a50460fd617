"""Mart constraints: what `dbt/models/marts/_marts__models.yml` declares, DuckDB holds and enforces.

Columns never null carry an enforced `not_null` constraint (primary key columns are not null
too) instead of a `not_null` data test; columns with a sign or a closed set of values (GPU-hours
never negative; a policy, a consumer kind, a delivery style from its list) carry an enforced
`check` constraint instead of a `non_negative` or `accepted_values` test. DuckDB refuses a bad
row on insert, so the build fails on the model that made it and leaves the table as it was, and
no test node scans the table again every night. These tests hold the demo warehouse (built
through Airflow and Cosmos) to that: DuckDB holds exactly the declared constraints, and a row
breaking one (inserted into a copy) is refused naming the table and the column.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from llmledger.paths import Home
from llmledger.warehouse import connect_readonly

MARTS_YML = Path(__file__).resolve().parents[2] / "dbt" / "models" / "marts" / "_marts__models.yml"


def _assert_refused(home: Home, tmp_path: Path, table: str, bad: str, key: str, match: str):
    """On a copy of ``home``'s warehouse: a row of ``table`` with ``bad`` (``<value> as
    <column>``) and a new ``key`` is refused (``match``) and the table keeps its rows; the
    same row with its own value is accepted (the bad value alone was refused)."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(home.warehouse, copy)
    column = bad.rsplit(" as ", 1)[1]
    con = duckdb.connect(str(copy))
    try:
        before = con.execute(f"select count(*) from {table}").fetchone()[0]
        assert before > 0
        # A new key, so the primary key does not refuse the row first.
        new_key = f"{key} || ':new' as {key}"
        replace = f"{bad}, {new_key}" if column != key else bad
        with pytest.raises(duckdb.ConstraintException, match=match):
            con.execute(f"insert into {table} select * replace ({replace}) from {table} limit 1")
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == before
        con.execute(f"insert into {table} select * replace ({new_key}) from {table} limit 1")
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == before + 1
    finally:
        con.close()


def _declared_not_null() -> dict[str, set[str]]:
    declared: dict[str, set[str]] = {}
    for model in yaml.safe_load(MARTS_YML.read_text())["models"]:
        columns = {
            c
            for constraint in model.get("constraints", [])
            if constraint["type"] == "primary_key"
            for c in constraint["columns"]
        }
        columns |= {
            column["name"]
            for column in model.get("columns", [])
            if any(c["type"] in ("not_null", "primary_key") for c in column.get("constraints", []))
        }
        declared[model["name"]] = columns
    return declared


def test_declared_columns_are_not_null_in_the_warehouse(demo_warehouse_home):
    declared = _declared_not_null()
    # The constraints cover the columns the marts' not_null tests used to (about a hundred).
    assert sum(len(columns) for columns in declared.values()) >= 100
    with connect_readonly(demo_warehouse_home) as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'main' and is_nullable = 'NO'"
        ).fetchall()
    held: dict[str, set[str]] = {}
    for table, column in rows:
        held.setdefault(table, set()).add(column)
    for model, columns in declared.items():
        assert held.get(model, set()) == columns, model


@pytest.mark.parametrize(
    ("table", "column", "key"),
    [
        ("fct_cost_allocation", "activity", "job_key"),
        ("fct_billing_charge", "billed_cost", "charge_key"),
    ],
)
def test_a_null_in_a_declared_column_is_refused(demo_warehouse_home, tmp_path, table, column, key):
    match = rf"NOT NULL.*{table}\.{column}"
    _assert_refused(demo_warehouse_home, tmp_path, table, f"null as {column}", key, match)


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
    match = rf"CHECK.*{table}.*{bad.rsplit(' as ', 1)[1]}"
    _assert_refused(demo_warehouse_home, tmp_path, table, bad, key, match)
