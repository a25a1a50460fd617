"""LLM Ledger's nightly refresh, as an Airflow DAG: ``llmledger_nightly``.

    prepare -> list_new_files -> ingest_one (one mapped task per new file) -> ingested
            -> plan_build (full refresh, or the window of the incremental models)
            -> dbt (Astronomer Cosmos DbtTaskGroup) -> record_build -> validate -> headline
            dbt -> freshness (dbt source freshness per raw kind)

A task that fails for good calls ``llmledger.alerts.on_failure_callback``: it logs which check
failed and calls the notifier named by ``LLMLEDGER_ALERT_CALLBACK``, if any (README, "Alerts").

Thin wiring: every task body is one call into ``llmledger.pipeline``, which runs and is tested
without Airflow. The scheduler and dag-processor parse this file over and over, so nothing
heavy happens at module level: no GX, DuckDB or pandas imports (task bodies import what they
need), no config reads; the only I/O is Cosmos reading the dbt manifest.

The home comes from ``LLMLEDGER_HOME`` (default ``./.llmledger``), in the parsing process and in
the workers alike. ``llmledger run`` (``llmledger.airflow_runner``) runs this DAG embedded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import (
    Asset,
    RetryDecision,
    RetryPolicy,
    TriggerRule,
    dag,
    get_current_context,
    task,
)
from cosmos import (
    DbtTaskGroup,
    ExecutionConfig,
    LoadMode,
    ProfileConfig,
    ProjectConfig,
    RenderConfig,
    TestBehavior,
)

from llmledger import airflow_runner as wiring
from llmledger.alerts import on_failure_callback
from llmledger.incremental import REFRESH_ENV
from llmledger.paths import Home

log = logging.getLogger(__name__)

MARTS = Asset(name="llmledger_marts", uri="llmledger://warehouse/marts")


class FailFastOnBadInput(RetryPolicy):
    """Invalid config or a failed mart check fails the same way on every try: fail at once
    instead of retrying; anything else (a locked file, a killed worker) gets the retries."""

    def evaluate(self, exception, try_number, max_tries, context=None) -> RetryDecision:
        from llmledger.pipeline import user_errors

        if isinstance(exception, user_errors()):
            return RetryDecision.fail(reason="bad input: retrying cannot fix it")
        return RetryDecision.default()


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "llmledger",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    # Logs the failing check and calls the team's notifier (LLMLEDGER_ALERT_CALLBACK).
    "on_failure_callback": on_failure_callback,
}
FAIL_FAST = FailFastOnBadInput()


def _home() -> Home:
    return Home.resolve()


def _planned(key: str) -> str:
    return "{{ ti.xcom_pull(task_ids='plan_build')['" + key + "'] }}"


PLANNED_ENGINE_ENV = {
    name: "{{ ti.xcom_pull(task_ids='plan_build')['engine_env']['" + name + "'] }}"
    for name in (
        "LLMLEDGER_DUCKDB_MEMORY_LIMIT",
        "LLMLEDGER_DUCKDB_TEMP_DIRECTORY",
        "LLMLEDGER_DUCKDB_THREADS",
    )
}


def _dbt_task_group(home: Home) -> DbtTaskGroup:
    # LoadMode.DBT_MANIFEST: rendering reads a manifest.json (a few ms) instead of running
    # `dbt ls` (seconds, a subprocess) on every parse. The manifest is written by
    # `dbt parse` (llmledger.airflow_runner.write_dbt_manifest) before each embedded run and by
    # the docker-compose init service; it lives in the home because dbt renders
    # LLMLEDGER_HOME into it. A missing manifest is an import error that names the fix.
    manifest = wiring.dbt_manifest_path(home)
    if not manifest.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {manifest}: run "
            "`python -m llmledger.airflow_runner manifest` (or `llmledger run`) first"
        )
    return DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=wiring.DBT_PROJECT_DIR,
            manifest_path=manifest,
            # No dbt packages (the hub is unreachable): `dbt deps` must never run.
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="llmledger",
            target_name="local",
            profiles_yml_filepath=wiring.DBT_PROFILES_YML,
        ),
        # Cosmos runs dbt in the task's process (dbtRunner) when dbt is importable there:
        # about 1 s per node instead of 4 s for a dbt subprocess (Python start-up and imports).
        # keep_open off (dbt_task_env) releases warehouse.duckdb after each node, so the
        # read-only tasks can open it even when dag.test() runs every task in one process.
        # The executable is the fallback for workers where dbt is installed apart.
        execution_config=ExecutionConfig(dbt_executable_path=wiring.dbt_executable()),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # One `dbt build` per node (model + its tests): half the tasks of after_each.
            # Tests on several models run once all of their parents are built.
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,
            # Cosmos derives assets from OpenLineage, which is not installed; `validate`
            # emits the marts asset instead.
            emit_datasets=False,
        ),
        operator_args={
            # The refresh plan of this run (task plan_build): the DuckDB limits of
            # config/warehouse.yaml, a full refresh or the window of the incremental models.
            # Templated: nothing is read at parse time.
            # The window is an environment variable, not a --vars: a var that changes every
            # night would make dbt re-parse the whole project in every task.
            "env": {
                **wiring.dbt_task_env(home),
                **PLANNED_ENGINE_ENV,
                REFRESH_ENV: _planned("refresh_from"),
            },
            "full_refresh": _planned("full_refresh"),
            "pool": wiring.WAREHOUSE_POOL,
            # Cosmos ends each node with a full gc.collect(): it then walks only the node's.
            "on_execute_callback": wiring.freeze_what_the_worker_holds,
        },
    )


@dag(
    dag_id=wiring.DAG_ID,
    description="Ingest new cost files, build the warehouse with dbt, check the marts",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    # DuckDB has one writer: two runs would fight over warehouse.duckdb.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["llmledger"],
    doc_md=__doc__,
)
def llmledger_nightly() -> None:
    """The nightly refresh of one LLM Ledger home."""

    @task(retry_policy=FAIL_FAST)
    def prepare() -> None:
        from llmledger import pipeline

        pipeline.prepare(_home())

    @task
    def list_new_files() -> list[str]:
        from llmledger import pipeline

        return pipeline.list_new_files(_home())

    @task(map_index_template="{{ source_file }}")
    def ingest_one(path: str) -> dict[str, Any]:
        from llmledger import pipeline

        get_current_context()["source_file"] = Path(path).name  # type: ignore[typeddict-unknown-key]
        return pipeline.ingest_one(_home(), path)

    # none_failed: with no new file the mapped ingest is skipped, and dbt must still rebuild
    # from what is already ingested (config may have changed).
    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def ingested(results: list[dict[str, Any]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        # By index: iterating the lazy XCom sequence probes one past its end, which the
        # task SDK logs as an error and reads like a failure.
        for index in range(len(results)):
            result = results[index]
            log.info("%s", result["summary"])
            counts[result["status"]] = counts.get(result["status"], 0) + 1
        log.info("files by outcome: %s", counts or "no new files")
        return counts

    # Reads the raw layer and the last build's state: incremental window or full refresh.
    @task(pool=wiring.WAREHOUSE_POOL, retry_policy=FAIL_FAST)
    def plan_build() -> dict[str, Any]:
        from llmledger import pipeline

        return pipeline.plan_build(_home())

    @task(pool=wiring.WAREHOUSE_POOL)
    def record_build(planned: dict[str, Any]) -> str:
        from llmledger import pipeline

        return pipeline.record_build(_home(), planned)

    @task(pool=wiring.WAREHOUSE_POOL, retry_policy=FAIL_FAST, outlets=[MARTS])
    def validate() -> None:
        from llmledger import pipeline

        log.info("mart checks:\n%s", pipeline.validate(_home()).report())

    # dbt opens warehouse.duckdb to run the freshness queries: the one-slot pool.
    @task(pool=wiring.WAREHOUSE_POOL, retry_policy=FAIL_FAST)
    def freshness() -> None:
        from llmledger import pipeline

        log.info("source freshness:\n%s", pipeline.freshness(_home()).report())

    @task(pool=wiring.WAREHOUSE_POOL)
    def headline() -> str:
        from llmledger import pipeline

        text = pipeline.headline(_home())
        log.info("\n%s", text)
        return text

    new_files = list_new_files()
    prepare() >> new_files
    done = ingested(ingest_one.expand(path=new_files))
    planned = plan_build()
    dbt = _dbt_task_group(_home())
    done >> planned >> dbt >> record_build(planned) >> validate() >> headline()
    dbt >> freshness()


llmledger_nightly()
