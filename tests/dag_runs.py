"""The runs of the nightly DAG in the Airflow metadata DB of the test run, oldest first."""

from __future__ import annotations

from typing import Any


def dag_runs_in_order() -> list[Any]:
    """Every DagRun of the nightly DAG, oldest first: by id, the order they were created. Not
    by start_date: a run `airflow dags test` starts for a past logical date (a backfill) has
    that date as its start_date."""
    from airflow.models.dagrun import DagRun

    from llmledger import airflow_runner

    return sorted(DagRun.find(dag_id=airflow_runner.DAG_ID), key=lambda r: r.id)
