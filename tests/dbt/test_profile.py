"""dbt/profiles.yml as dbt renders it, in the environments llmledger gives dbt: a command-line
dbt (``warehouse.dbt_command``) holds the warehouse open for its whole run; the DAG's dbt tasks
(``airflow_runner.dbt_task_env``) release it after each node."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from llmledger import airflow_runner, warehouse
from llmledger.paths import Home

# Renders the profile's target with dbt's own renderer, once per environment read from stdin.
RENDER = """\
import json, sys
from dbt_common.context import set_invocation_context
from dbt.config.profile import read_profile
from dbt.config.renderer import ProfileRenderer
profile = read_profile(sys.argv[1])["llmledger"]["outputs"]["local"]
rendered = []
for env in json.load(sys.stdin):
    set_invocation_context(env)
    rendered.append(ProfileRenderer({}).render_data(profile))
print(json.dumps(rendered, default=str))
"""


def _rendered(*envs: dict[str, str]) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", RENDER, str(warehouse.DBT_PROFILES_DIR)],
        input=json.dumps(envs),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Home:
    monkeypatch.delenv(warehouse.KEEP_OPEN_ENV, raising=False)
    return Home.resolve(tmp_path / "home").ensure()


def test_a_command_keeps_the_warehouse_open_the_dag_tasks_release_it(home, monkeypatch):
    _, command_env = warehouse.dbt_command(home, ["build"])
    # The tasks release it even on a worker whose environment says otherwise.
    monkeypatch.setenv(warehouse.KEEP_OPEN_ENV, "true")
    task_env = {**os.environ, **airflow_runner.dbt_task_env(home)}
    monkeypatch.setenv(warehouse.KEEP_OPEN_ENV, "false")  # a site that wants it released
    _, released_env = warehouse.dbt_command(home, ["build"])
    command, task, released = _rendered(command_env, task_env, released_env)
    assert command["keep_open"] is True
    assert task["keep_open"] is False
    assert released["keep_open"] is False
    assert command["path"] == str(home.root / "warehouse.duckdb")
