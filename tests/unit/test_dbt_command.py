"""Every dbt run goes through ``warehouse.dbt_command``: the home's DuckDB limits
(``config/warehouse.yaml``) hold for parses, docs and freshness checks as for builds."""

import json
from pathlib import Path

import duckdb
import pytest

from fake_dbt import install as install_fake_dbt
from llmledger import airflow_runner, docs, warehouse
from llmledger.paths import Home

# Stands in for dbt: records its arguments and the environment it was given, and writes what
# the caller reads back into the target folder.
FAKE_DBT = """\
import json, os, sys
target = os.environ["DBT_TARGET_PATH"]
os.makedirs(target, exist_ok=True)
for name in ("static_index.html", "manifest.json"):
    open(os.path.join(target, name), "w").write("{}")
keys = ("DBT_TARGET_PATH", "LLMLEDGER_HOME", "LLMLEDGER_DUCKDB_MEMORY_LIMIT",
        "LLMLEDGER_DUCKDB_TEMP_DIRECTORY", "DO_NOT_TRACK", "EXTRA")
seen = {"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in keys}}
with open(os.environ["FAKE_DBT_OUT"], "a") as out:
    out.write(json.dumps(seen) + "\\n")
"""


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_fake_dbt(tmp_path, monkeypatch, FAKE_DBT)
    out = tmp_path / "runs.jsonl"
    monkeypatch.setenv("FAKE_DBT_OUT", str(out))
    return out


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home.resolve(tmp_path / "home").ensure()
    (home.config / "warehouse.yaml").write_text(
        f"memory_limit: 3GiB\ntemp_directory: {tmp_path / 'spill'}\n", encoding="utf-8"
    )
    return home


def _runs(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_run_dbt_gives_the_limits_the_target_and_the_extra_environment(runs, home, tmp_path):
    proc = warehouse.run_dbt(
        home,
        ["source", "freshness"],
        "--select",
        "x",
        target=tmp_path / "t",
        extra_env={"EXTRA": "1"},
    )
    assert proc.returncode == 0
    [seen] = _runs(runs)
    project = str(warehouse.DBT_PROJECT_DIR)
    assert seen["argv"] == ["source", "freshness", "--project-dir", project, "--select", "x"]
    assert seen["env"] == {
        "DBT_TARGET_PATH": str(tmp_path / "t"),
        "LLMLEDGER_HOME": str(home.root),
        "LLMLEDGER_DUCKDB_MEMORY_LIMIT": "3GiB",
        "LLMLEDGER_DUCKDB_TEMP_DIRECTORY": str(tmp_path / "spill"),
        "DO_NOT_TRACK": "1",
        "EXTRA": "1",
    }


def test_docs_and_the_dag_manifest_run_dbt_under_the_limits(runs, home, tmp_path):
    # Docs of this home (without a warehouse, of an empty stand-in): a database, if empty.
    duckdb.connect(str(home.warehouse)).close()
    docs.generate_docs(home, tmp_path / "docs")
    manifest = airflow_runner.write_dbt_manifest(home)
    docs_run, parse_run = _runs(runs)
    assert docs_run["argv"][:2] == ["docs", "generate"]
    assert parse_run["argv"][:1] == ["parse"]
    assert Path(parse_run["env"]["DBT_TARGET_PATH"]) == manifest.parent
    for seen in (docs_run, parse_run):
        assert seen["env"]["LLMLEDGER_DUCKDB_MEMORY_LIMIT"] == "3GiB"
        assert seen["env"]["LLMLEDGER_DUCKDB_TEMP_DIRECTORY"] == str(tmp_path / "spill")
