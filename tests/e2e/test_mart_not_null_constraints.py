"""Mart columns declared never null are NOT NULL in the warehouse, and a null is refused.

`dbt/models/marts/_marts__models.yml` gives such columns an enforced `not_null` constraint
(primary key columns are not null too) instead of a `not_null` data test. These tests hold the
demo warehouse, built through Airflow and Cosmos, to that: the columns DuckDB holds as NOT
NULL are exactly the declared ones, and inserting a null into one (on a copy) fails naming the
table and the column.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from llmledger.warehouse import connect_readonly

MARTS_YML = Path(__file__).resolve().parents[2] / "dbt" / "models" / "marts" / "_marts__models.yml"


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
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_home.warehouse, copy)
    con = duckdb.connect(str(copy))
    try:
        before = con.execute(f"select count(*) from {table}").fetchone()[0]
        assert before > 0
        with pytest.raises(duckdb.ConstraintException, match=rf"NOT NULL.*{table}\.{column}"):
            con.execute(
                # A new key, so the primary key does not refuse the row first.
                f"insert into {table} select * replace (null as {column}, {key} || ':new' as "
                f"{key}) from {table} limit 1"
            )
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == before
        # The same row with the column filled is accepted: the null alone was refused.
        con.execute(
            f"insert into {table} select * replace ({key} || ':new' as {key}) from {table} limit 1"
        )
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == before + 1
    finally:
        con.close()
