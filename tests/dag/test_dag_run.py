"""End to end through Airflow: the nightly DAG on the demo organisation, as `llmledger run` runs it.

Slow (about two minutes for the first run, one for the second): one embedded run of
``airflow dags test`` per scenario, against the suite's single metadata DB.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from dag_runs import dag_runs_in_order
from llmledger import airflow_runner, config
from llmledger.paths import Home
from llmledger.warehouse import connect_readonly

pytestmark = [pytest.mark.airflow, pytest.mark.e2e]

# The marts the headline and the reconciliation rest on: the demo fills every one of them.
CORE_MARTS = (
    "fct_billing_charge",
    "fct_cost_allocation",
    "fct_data_share",
    "fct_quarterly_allocation",
    "rpt_reconciliation",
)


def _query(home: Home, sql: str) -> list[tuple]:
    con = connect_readonly(home)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# The `demo_run` fixture (the demo refreshed twice through Airflow) lives in tests/conftest.py,
# so the report and saved-query tests read the same demo warehouse: one per test run.


def test_both_runs_succeed(demo_run):
    assert demo_run["exit_codes"] == (0, 0)
    assert demo_run["first_state"] == "success"
    assert demo_run["second_state"] == "success"


def test_every_landing_file_was_ingested(demo_run):
    from llmledger import ingest

    home = demo_run["home"]
    assert ingest.pending_files(home) == []
    assert list(home.ingest_log.glob("*.parquet"))


def test_every_mart_of_the_dbt_project_is_built(demo_run):
    home = demo_run["home"]
    manifest = json.loads(airflow_runner.dbt_manifest_path(home).read_text())
    marts = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "marts" in node["fqn"]
    }
    tables = {name for (name,) in _query(home, "select table_name from information_schema.tables")}
    assert set(CORE_MARTS) <= marts
    assert marts <= tables


def test_core_marts_have_rows(demo_run):
    home = demo_run["home"]
    for mart in CORE_MARTS:
        [(rows,)] = _query(home, f"select count(*) from {mart}")
        assert rows > 0, mart


def test_one_data_share_row_per_demo_generation(demo_run):
    home = demo_run["home"]
    generations = {g.model_generation for g in config.load_config(home).model_generations}
    rows = _query(home, "select model_generation, data_share from fct_data_share")
    assert sorted(g for g, _ in rows) == sorted(generations)
    assert all(share is not None and 0 <= share <= 1 for _, share in rows)


def test_reconciliation_passes(demo_run):
    failed = _query(
        demo_run["home"], "select check_name, scope from rpt_reconciliation where not passed"
    )
    assert failed == []


def test_a_run_with_no_new_files_changes_nothing(demo_run):
    after_second = _query(demo_run["home"], "select * from fct_data_share order by all")
    assert after_second == demo_run["shares_after_first"]


# Scheduling semantics (README "Scheduling"): a run processes what arrived since the last one,
# by content; a backfill of a past date re-derives the ledger and counts nothing twice.


def test_a_file_resent_under_another_name_is_not_new(demo_run):
    # Same bytes, new name: already ingested by content, so the second run had nothing to read.
    assert demo_run["redelivered"].exists()
    assert demo_run["pending_before_second"] == []
    second_log = demo_run["run_logs"][-1].read_text()
    assert "files by outcome: no new files" in second_log


def test_the_backfill_run_was_incremental_and_recorded(demo_run):
    from llmledger import incremental

    state = json.loads((demo_run["home"].root / incremental.STATE_FILE).read_text())
    # Nothing new: the window is the last build's billing horizon less the lookback, not a
    # full refresh (the first run was one: no earlier build).
    assert state["last_build"].startswith("incremental from "), state["last_build"]
    assert "(0 new file(s) since the last build)" in state["last_build"]
    first_log = demo_run["run_logs"][0].read_text()
    assert "dbt build: full refresh (no earlier build to add to)" in first_log


def test_the_dbt_tasks_of_the_backfill_got_its_window(demo_run):
    # Cosmos renders the window into each dbt task's environment (LLMLEDGER_REFRESH_FROM,
    # read by dbt/macros/incremental.sql); Airflow keeps what it rendered.
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.utils.session import create_session

    from llmledger import incremental

    state = json.loads((demo_run["home"].root / incremental.STATE_FILE).read_text())
    window = state["last_build"].removeprefix("incremental from ").split(" (")[0] + ":00"
    last = dag_runs_in_order()[-1]
    assert last.logical_date.date() == dt.date(2026, 1, 15)  # the backfill
    with create_session() as session:
        rendered = (
            session.query(Rendered.task_id, Rendered.rendered_fields)
            .filter(Rendered.dag_id == airflow_runner.DAG_ID, Rendered.run_id == last.run_id)
            .all()
        )
    dbt_envs = {
        task: fields["env"]
        for task, fields in rendered
        if task.startswith("dbt.") and (fields or {}).get("env")
    }
    assert len(dbt_envs) > 10
    assert {env[incremental.REFRESH_ENV] for env in dbt_envs.values()} == {window}
    assert window != incremental.EVERYTHING


def test_the_backfill_counts_nothing_twice(demo_run):
    # Every charge once: the billing mart still equals what the generator wrote (also per
    # invoice, below), and the allocation still sums to all spend.
    summary = demo_run["summary"]
    [(billed, rows)] = _query(
        demo_run["home"], "select sum(billed_cost), count(*) from fct_billing_charge"
    )
    assert billed == sum(summary.billed_cost_by_invoice.values())
    [(distinct,)] = _query(
        demo_run["home"], "select count(distinct charge_key) from fct_billing_charge"
    )
    assert distinct == rows


def test_a_failed_dag_run_exits_non_zero_without_retrying(airflow_home, tmp_path):
    # prepare fails on the bad config; the retry policy fails it at once (no 2 x 5 min wait)
    # and `airflow dags test` must turn the failed run into a non-zero exit.
    home = Home(tmp_path).ensure()
    with (home.config / "policies.yaml").open("a") as f:
        f.write("no_such_policy: 1\n")
    assert airflow_runner.run_dag(home, airflow_home=airflow_home) != 0
    assert dag_runs_in_order()[-1].state == "failed"
    # The failure callback ran in the task and named the DAG, the task and the failing check.
    [run_log] = (home.root / "logs").glob(f"{airflow_runner.DAG_ID}-*.log")
    text = run_log.read_text()
    assert "LLM Ledger: task prepare of DAG llmledger_nightly failed" in text
    assert "failing check: config validation of config/policies.yaml" in text


# The generator counts what it writes while writing it; the warehouse must arrive at the same
# figures through ingest and dbt, to the last unit of DECIMAL(38, 10).


def test_billing_per_invoice_matches_what_the_generator_wrote(demo_run):
    summary = demo_run["summary"]
    rows = _query(
        demo_run["home"],
        "select invoice_id, sum(billed_cost), sum(effective_cost) "
        "from fct_billing_charge group by 1",
    )
    assert {r[0]: r[1] for r in rows} == summary.billed_cost_by_invoice
    assert {r[0]: r[2] for r in rows} == summary.effective_cost_by_invoice


def test_annotation_per_invoice_matches_what_the_generator_wrote(demo_run):
    summary = demo_run["summary"]
    rows = _query(
        demo_run["home"],
        "select vendor, invoice_id, sum(cost_usd) from fct_annotation_cost group by 1, 2",
    )
    assert {(v, i): c for v, i, c in rows} == summary.annotation_amount_by_invoice


def test_job_gpu_hours_per_cluster_match_the_job_logs(demo_run):
    summary = demo_run["summary"]
    home = demo_run["home"]
    rows = _query(home, "select cluster, sum(gpu_hours) from fct_cost_allocation group by 1")
    # Floor splits at hour boundaries lose at most 1e-10 GPU-hour per job-hour.
    [(job_hours,)] = _query(home, "select count(*) from fct_cost_allocation")
    tolerance = job_hours * Decimal("1e-10")
    for cluster, gpu_hours in rows:
        assert abs(gpu_hours - summary.gpu_hours_by_cluster[cluster]) <= tolerance
    assert {c for c, _ in rows} == set(summary.gpu_hours_by_cluster)


def test_all_spend_lands_in_the_quarterly_allocation(demo_run):
    summary = demo_run["summary"]
    [(total,)] = _query(demo_run["home"], "select sum(cost_usd) from fct_quarterly_allocation")
    assert total == summary.total_effective_cost + summary.total_annotation_amount


def test_human_data_cost_flows_from_invoices_into_the_data_share(demo_run):
    """Invoice lines -> fct_annotation_cost -> dim_dataset -> amortization -> data share.

    Each demo human dataset's own cost is exactly what its vendors invoiced (fees spread in);
    units of production charge each generation own cost x tokens / expected lifetime tokens
    (demo config: sft-human-v1 150M and 300M of 600M; pref-human-v1 60M and 120M of 360M;
    redteam-v1 10M and 20M of 60M), e.g. gen2 = sft x 1/4 + pref x 1/6 + redteam x 1/6; that
    is its data.human cost, inside fct_data_share.data_cost_usd."""
    home = demo_run["home"]
    invoiced = dict(
        _query(
            home,
            "select dataset_version, sum(cost_usd) from fct_annotation_cost group by 1",
        )
    )
    own = dict(_query(home, "select dataset_version, own_cost_usd from dim_dataset"))
    assert set(invoiced) == {"sft-human-v1", "pref-human-v1", "redteam-v1"}
    assert {d: own[d] for d in invoiced} == invoiced
    human = dict(
        _query(
            home,
            "select model_generation, cost_usd from fct_model_generation_cost "
            "where activity = 'data.human'",
        )
    )
    data_cost = dict(_query(home, "select model_generation, data_cost_usd from fct_data_share"))
    for generation, k in (("gen2", 1), ("gen3", 2)):
        expected = (
            invoiced["sft-human-v1"] * k / 4
            + invoiced["pref-human-v1"] * k / 6
            + invoiced["redteam-v1"] * k / 6
        )
        # each charge is floored to 1e-10 per dataset
        assert Decimal(0) <= expected - human[generation] <= Decimal("3e-10")
        assert Decimal(0) < human[generation] < data_cost[generation]
