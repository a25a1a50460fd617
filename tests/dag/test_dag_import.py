"""The nightly DAG parses cleanly, cheaply, and is wired the way DESIGN.md says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from llmledger import airflow_runner
from llmledger.paths import Home

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_FILE = DAGS_FOLDER / "llmledger_nightly.py"
WAREHOUSE_TASKS_OUTSIDE_DBT = {"plan_build", "record_build", "validate", "headline", "freshness"}


@pytest.fixture(scope="module")
def dag(dagbag):
    assert dagbag.import_errors == {}
    return dagbag.dags[airflow_runner.DAG_ID]


def test_dag_folder_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {airflow_runner.DAG_ID}


def test_dag_file_is_not_skipped_by_the_safe_mode_heuristic():
    from airflow.utils.file import might_contain_dag_via_default_heuristic

    assert might_contain_dag_via_default_heuristic(str(DAG_FILE))


def test_parsing_runs_no_dbt_and_imports_nothing_heavy(dag_home):
    # A fresh interpreter: the test process may already hold pandas or DuckDB from other tests.
    # The scheduler parses the file over and over: rendering must read the manifest, not run
    # `dbt ls` (a dbt subprocess, or dbt's runner in-process: seconds on every parse).
    probe = (
        "import json, subprocess, sys\n"
        "started = []\n"
        "popen_init = subprocess.Popen.__init__\n"
        "def record(self, args, *rest, **kwargs):\n"
        "    started.append([str(a) for a in ([args] if isinstance(args, str) else args)])\n"
        "    popen_init(self, args, *rest, **kwargs)\n"
        "subprocess.Popen.__init__ = record\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_FOLDER)!r})\n"
        "heavy = [m for m in ('duckdb', 'pandas', 'great_expectations', 'pyarrow', 'dbt.cli') "
        "if m in sys.modules]\n"
        "dbt_runs = [cmd for cmd in started if 'dbt' in cmd[0].rsplit('/', 1)[-1]]\n"
        "print(json.dumps({'errors': list(bag.import_errors), 'heavy': heavy, "
        "'dags': list(bag.dag_ids), 'dbt_runs': dbt_runs}))\n"
    )
    env = {**os.environ, "LLMLEDGER_HOME": str(dag_home)}
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["dags"] == [airflow_runner.DAG_ID]
    assert report["heavy"] == []
    assert report["dbt_runs"] == []


def test_missing_manifest_is_an_import_error_that_names_the_fix(tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("LLMLEDGER_HOME", str(tmp_path))
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    [message] = bag.import_errors.values()
    assert "dbt manifest not found" in message
    assert "llmledger.airflow_runner manifest" in message


def test_schedule_and_concurrency(dag):
    assert dag.dag_id == "llmledger_nightly"
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_every_task_retries_with_a_delay(dag):
    for task in dag.tasks:
        assert task.retries == 2, task.task_id
        assert task.retry_delay >= timedelta(minutes=1), task.task_id


def test_bad_input_fails_fast_instead_of_retrying(dag):
    from llmledger.config import ConfigError

    policy = dag.task_dict["prepare"].retry_policy
    decision = policy.evaluate(ConfigError([]), try_number=1, max_tries=3)
    assert decision.action.value == "fail"
    assert policy.evaluate(OSError("disk"), try_number=1, max_tries=3).action.value == "default"


def test_every_task_that_opens_the_warehouse_is_in_the_one_slot_pool(dag):
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    assert dbt_tasks
    for task in dag.tasks:
        opens_warehouse = task in dbt_tasks or task.task_id in WAREHOUSE_TASKS_OUTSIDE_DBT
        expected = airflow_runner.WAREHOUSE_POOL if opens_warehouse else "default_pool"
        assert task.pool == expected, task.task_id


def test_task_order(dag):
    tasks = dag.task_dict
    assert tasks["prepare"].downstream_task_ids == {"list_new_files"}
    assert tasks["list_new_files"].downstream_task_ids == {"ingest_one"}
    assert tasks["ingest_one"].downstream_task_ids == {"ingested"}
    dbt_ids = {t for t in tasks if t.startswith("dbt.")}
    dbt_roots = {t for t in dbt_ids if not (tasks[t].upstream_task_ids & dbt_ids)}
    dbt_leaves = {t for t in dbt_ids if not (tasks[t].downstream_task_ids & dbt_ids)}
    assert tasks["ingested"].downstream_task_ids == {"plan_build"}
    # Every dbt task reads the plan (templated); record_build writes the state once all passed.
    assert tasks["plan_build"].downstream_task_ids == dbt_roots | {"record_build"}
    assert tasks["record_build"].upstream_task_ids == dbt_leaves | {"plan_build"}
    assert tasks["validate"].upstream_task_ids == {"record_build"}
    assert tasks["headline"].upstream_task_ids == {"validate"}
    assert tasks["headline"].downstream_task_ids == set()
    assert tasks["freshness"].upstream_task_ids == dbt_leaves
    assert tasks["freshness"].downstream_task_ids == set()


def test_every_task_reports_its_failure_through_the_alert_callback(dag):
    from llmledger import alerts

    for task in dag.tasks:
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert alerts.on_failure_callback in callbacks, task.task_id


def test_stale_sources_fail_fast(dag):
    from llmledger.freshness import FreshnessFailed, FreshnessResult

    policy = dag.task_dict["freshness"].retry_policy
    decision = policy.evaluate(FreshnessFailed(FreshnessResult(())), try_number=1, max_tries=3)
    assert decision.action.value == "fail"


def test_ingest_is_mapped_and_zero_new_files_still_builds(dag):
    from airflow.sdk import TriggerRule

    assert dag.task_dict["ingest_one"].is_mapped
    assert dag.task_dict["ingested"].trigger_rule == TriggerRule.NONE_FAILED


def test_dbt_renders_every_model_and_seed_from_the_manifest(dag, dag_home):
    manifest = json.loads(airflow_runner.dbt_manifest_path(Home(dag_home)).read_text())
    expected = {
        f"dbt.{node['name']}_{node['resource_type']}_build"
        for node in manifest["nodes"].values()
        if node["package_name"] == "llmledger"
        and node["resource_type"] in ("model", "seed")
        and node["config"].get("materialized") != "ephemeral"
    }
    assert expected
    assert expected <= set(dag.task_dict)


def test_dbt_tasks_run_against_the_home_without_dbt_deps(dag, dag_home):
    task = next(t for t in dag.tasks if t.task_id.startswith("dbt."))
    assert task.env["LLMLEDGER_HOME"] == str(dag_home)
    assert task.env["DO_NOT_TRACK"] == "1"
    assert task.install_deps is False
    assert Path(task.project_dir) == airflow_runner.DBT_PROJECT_DIR


def test_dbt_tasks_take_the_refresh_plan_and_duckdb_limits_from_plan_build(dag):
    # Templated (rendered per run from the plan_build XCom), never read at parse time.
    builds = [t for t in dag.tasks if t.task_id.startswith("dbt.") and hasattr(t, "full_refresh")]
    assert len(builds) > 10
    for task in builds:
        assert "plan_build" in task.full_refresh, task.task_id
        assert "plan_build" in task.env["LLMLEDGER_REFRESH_FROM"], task.task_id
        assert "llmledger_refresh_from" not in (task.vars or {}), task.task_id
        for name in ("LLMLEDGER_DUCKDB_MEMORY_LIMIT", "LLMLEDGER_DUCKDB_THREADS"):
            assert "plan_build" in task.env[name], task.task_id


def test_dbt_tasks_freeze_what_the_worker_holds_before_dbt_runs(dag):
    # Cosmos ends each node with a full gc.collect(): frozen, the worker's objects are skipped.
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    assert len(dbt_tasks) > 10
    for task in dbt_tasks:
        callbacks = task.on_execute_callback
        callbacks = callbacks if isinstance(callbacks, list | tuple) else [callbacks]
        assert airflow_runner.freeze_what_the_worker_holds in callbacks, task.task_id
    others = [t for t in dag.tasks if not t.task_id.startswith("dbt.")]
    assert all(not t.on_execute_callback for t in others)


def test_dbt_tasks_get_the_warehouse_env_less_the_target_path(tmp_path):
    from llmledger import warehouse

    home = Home(tmp_path)
    # Less the target path, which Cosmos needs inside its per-node copy of the project; the
    # warehouse released after each node.
    expected = {k: v for k, v in warehouse.dbt_env(home).items() if k != "DBT_TARGET_PATH"}
    expected["LLMLEDGER_DBT_KEEP_OPEN"] = "false"
    assert airflow_runner.dbt_task_env(home) == expected
