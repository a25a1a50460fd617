"""Every saved finance query (sql/queries/*.sql) runs on the demo warehouse through
``llmledger sql --file`` and its result is checked against the marts or against what the demo
generator wrote; and ``llmledger sql`` cannot change the warehouse.

A new saved query without a check here fails ``test_every_saved_query_has_a_check``.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from llmledger import cli
from llmledger.warehouse import connect_readonly

pytestmark = [pytest.mark.airflow, pytest.mark.e2e]

QUERIES = Path(__file__).resolve().parents[2] / "sql" / "queries"
SAVED = sorted(p.stem for p in QUERIES.glob("*.sql"))
CENT = Decimal("0.01")


def run_saved(capsys, home, name: str, *params: str) -> list[dict]:
    argv = ["--home", str(home.root), "sql", "--file", str(QUERIES / f"{name}.sql")]
    argv += ["--format", "json", *(x for p in params for x in ("--param", p))]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    return [{k: (Decimal(v) if _decimal(v) else v) for k, v in r.items()} for r in rows]


def _decimal(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value) is not None


def mart(home, sql: str, params=()) -> list[tuple]:
    con = connect_readonly(home)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def q2(value) -> Decimal:
    return Decimal(value).quantize(CENT)


@pytest.mark.parametrize("name", SAVED)
def test_every_saved_query_is_documented(name):
    header = (QUERIES / f"{name}.sql").read_text().splitlines()[0]
    assert header.startswith("-- "), f"{name}.sql must open with a comment saying what it answers"
    meta = yaml.safe_load((QUERIES / f"{name}.yml").read_text())
    assert {"description", "answers", "owner", "parameters", "marts"} <= set(meta)
    sql = (QUERIES / f"{name}.sql").read_text()
    header = "\n".join(line for line in sql.splitlines() if line.startswith("--"))
    assert "Parameters" in header, f"{name}.sql: say which parameters it takes (or none)"
    for param in meta["parameters"]:
        assert f"getvariable('{param['name']}')" in sql
        assert param["name"] in header, f"{name}.sql: parameter {param['name']} not in header"


def test_every_saved_query_has_a_check():
    assert set(SAVED) == set(CHECKS), "add a check for each saved query"


# --- one check per saved query ----------------------------------------------------------------


def check_data_share_by_generation(capsys, demo_run):
    home = demo_run["home"]
    rows = run_saved(capsys, home, "data_share_by_generation")
    expected = mart(home, "select * from fct_data_share order by model_generation")
    assert (
        [r["model_generation"] for r in rows]
        == [e[0] for e in expected]
        == ["gen1", "gen2", "gen3"]
    )
    for r, (_, data, training, share, _, _, break_even) in zip(rows, expected, strict=True):
        assert r["data_cost_usd"] == q2(data) and r["training_cost_usd"] == q2(training)
        assert r["at_or_above_break_even"] is (share >= break_even)


def check_dataset_cost(capsys, demo_run):
    home = demo_run["home"]
    rows = run_saved(capsys, home, "dataset_cost")
    assert {r["dataset_version"] for r in rows} == {
        d for (d,) in mart(home, "select dataset_version from dim_dataset")
    }
    totals = [r["total_cost_usd"] for r in rows]
    assert totals == sorted(totals, reverse=True)
    for r in rows:  # each figure is rounded on its own: sums may differ by a cent
        assert abs(r["own_cost_usd"] + r["inherited_cost_usd"] - r["total_cost_usd"]) <= CENT
        assert abs(r["total_cost_usd"] - r["amortized_usd"] - r["balance_usd"]) <= CENT
    derived = {r["dataset_version"]: r for r in rows if r["parent_datasets"]}
    # the demo's derived datasets inherit from their parents (the lineage in the generator)
    assert set(derived) == {"web-filtered-v1", "web-rephrased-v1"}
    assert all(r["inherited_cost_usd"] > 0 for r in derived.values())


def check_top_untagged_spend(capsys, demo_run):
    home = demo_run["home"]
    [(untagged,)] = mart(
        home,
        "select sum(allocated_cost_usd) from fct_cost_allocation"
        " where activity = 'untagged' and hour >= '2026-07-01' and hour < '2026-10-01'",
    )
    # The quarter's untagged line also holds the shared costs that follow those jobs.
    [(untagged_line,)] = mart(
        home,
        "select sum(cost_usd) from fct_quarterly_allocation"
        " where quarter = '2026Q3' and activity = 'untagged'",
    )
    assert untagged_line > untagged
    rows = run_saved(capsys, home, "top_untagged_spend", "quarter=2026Q3", "top_n=100000")
    assert rows and {r["quarter"] for r in rows} == {"2026Q3"}
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    costs = [r["cost_usd"] for r in rows]
    assert costs == sorted(costs, reverse=True)
    assert abs(sum(costs) - untagged) <= CENT * len(rows)
    top3 = run_saved(capsys, home, "top_untagged_spend", "quarter=2026Q3", "top_n=3")
    assert top3 == rows[:3]
    # without parameters: the latest quarter, top 20
    default = run_saved(capsys, home, "top_untagged_spend")
    assert len(default) == 20 and default[0]["quarter"] == "2026Q3"


def check_quarter_over_quarter_movers(capsys, demo_run):
    home = demo_run["home"]
    rows = run_saved(capsys, home, "quarter_over_quarter_movers", "quarter=2026Q3")
    spend = dict(
        mart(home, "select quarter, sum(cost_usd) from fct_quarterly_allocation group by 1")
    )
    assert abs(
        sum(r["change_usd"] for r in rows) - (spend["2026Q3"] - spend["2026Q2"])
    ) <= CENT * len(rows)
    changes = [abs(r["change_usd"]) for r in rows]
    assert changes == sorted(changes, reverse=True)
    cells = mart(
        home,
        "select activity, model_generation, sum(cost_usd) filter (where quarter = '2026Q3')"
        " - coalesce(sum(cost_usd) filter (where quarter = '2026Q2'), 0)"
        " from fct_quarterly_allocation"
        " where quarter in ('2026Q2', '2026Q3') group by 1, 2",
    )
    largest = max(cells, key=lambda c: abs(c[2] or 0))
    assert (rows[0]["activity"], rows[0]["model_generation"]) == largest[:2]
    # the year boundary: 2026Q1 is compared with 2025Q4
    first = run_saved(capsys, home, "quarter_over_quarter_movers", "quarter=2026Q1")
    assert {(r["previous_quarter"], r["quarter"]) for r in first} == {("2025Q4", "2026Q1")}


def check_annotation_unit_costs(capsys, demo_run):
    home = demo_run["home"]
    rows = run_saved(capsys, home, "annotation_unit_costs")
    summary = demo_run["summary"]
    assert abs(sum(r["cost_usd"] for r in rows) - summary.total_annotation_amount) <= CENT * len(
        rows
    )
    q3 = run_saved(capsys, home, "annotation_unit_costs", "quarter=2026Q3")
    assert q3 == [r for r in rows if r["quarter"] == "2026Q3"] and q3
    for r in q3:
        if r["quantity"]:
            assert abs(r["unit_cost_usd"] - r["cost_usd"] / r["quantity"]) <= Decimal("0.0001")
        else:
            # Invoice-level lines (a flat fee, a minimum top-up) have no units to divide by.
            assert r["unit_cost_usd"] is None
    assert any(r["quantity"] for r in q3)


def check_idle_cost_by_cluster(capsys, demo_run):
    home = demo_run["home"]
    rows = run_saved(capsys, home, "idle_cost_by_cluster")
    idle = dict(
        mart(
            home,
            "select quarter, sum(cost_usd) from fct_quarterly_allocation"
            " where activity = 'idle' group by 1",
        )
    )
    for quarter, total in idle.items():
        mine = [r["idle_cost_usd"] for r in rows if r["quarter"] == quarter]
        assert abs(sum(mine) - total) <= CENT * len(mine)


def check_quarterly_spend_by_activity(capsys, demo_run):
    rows = run_saved(capsys, demo_run["home"], "quarterly_spend_by_activity")
    summary = demo_run["summary"]
    expected = summary.total_effective_cost + summary.total_annotation_amount
    assert abs(sum(r["cost_usd"] for r in rows) - expected) <= CENT * len(rows)


def check_reconciliation_failures(capsys, demo_run):
    assert run_saved(capsys, demo_run["home"], "reconciliation_failures") == []


CHECKS = {
    name.removeprefix("check_"): fn
    for name, fn in dict(globals()).items()
    if name.startswith("check_")
}


@pytest.mark.parametrize("name", SAVED)
def test_saved_query_on_the_demo_warehouse(name, capsys, demo_run, demo_warehouse_home):
    CHECKS[name](capsys, demo_run)


def test_sql_refuses_to_delete_and_the_table_is_unchanged(capsys, demo_warehouse_home):
    home = demo_warehouse_home
    before = mart(home, "select * from fct_data_share order by all")
    digest = hashlib.sha256(home.warehouse.read_bytes()).hexdigest()
    code = cli.main(["--home", str(home.root), "sql", "delete from fct_data_share"])
    err = capsys.readouterr().err
    assert code == 1
    assert "refused" in err and "read-only" in err
    assert mart(home, "select * from fct_data_share order by all") == before and len(before) == 3
    assert hashlib.sha256(home.warehouse.read_bytes()).hexdigest() == digest
