"""Session fixtures shared by the whole suite.

Airflow reads ``AIRFLOW_HOME`` and its ``AIRFLOW__*`` settings the first time anything imports
it, so they are set here, at import time, before any test module is collected. The suite gets
one throwaway Airflow home and one SQLite metadata DB, created on first use (about 3 s) and
shared by every test that needs it.

``make test`` runs the suite on two pytest-xdist workers (``TEST_WORKERS``). Each worker is
a process with its own Airflow home and session fixtures, so the scheduling below keeps
expensive fixtures built once: a test module goes whole to one worker (its module-scoped
build is made once), and the modules that read the demo organisation go to the same worker,
first (its refresh through Airflow is the longest fixture of the run).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from dag_runs import dag_runs_in_order

REPO_ROOT = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO_ROOT / "dags"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="llmledger-test-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "SCARF_ANALYTICS": "false",
        "GX_ANALYTICS_ENABLED": "False",
    }
)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


# --- scheduling on pytest-xdist workers ------------------------------------------------------

DEMO_FIXTURES = frozenset({"demo_run", "demo_warehouse_home"})
# The modules whose tests read the demo organisation: one scope on one worker, so its refresh
# through Airflow (the longest fixture of the run) happens once. Listed by path because the
# scheduler sees test ids only (xdist's own groups append to an id pytest 9 no longer keeps);
# collection checks the list is complete.
DEMO_MODULES = frozenset(
    {
        "tests/browser/test_report_browser.py",
        "tests/dag/test_dag_run.py",
        "tests/e2e/test_mart_constraints.py",
        "tests/report/test_report_demo.py",
        "tests/sql/test_saved_queries.py",
    }
)
DEMO_SCOPE = "demo-organisation"


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The demo organisation's tests run first; a test that reads it outside DEMO_MODULES is
    a usage error (on two workers it would refresh the demo a second time)."""
    stray = [
        item.nodeid
        for item in items
        if DEMO_FIXTURES & set(getattr(item, "fixturenames", ()))
        and _module(item.nodeid) not in DEMO_MODULES
    ]
    if stray:
        raise pytest.UsageError(
            "tests read the demo organisation from modules missing from DEMO_MODULES in "
            f"tests/conftest.py: {', '.join(stray)}"
        )
    items.sort(key=lambda item: _module(item.nodeid) not in DEMO_MODULES)


class ModuleOrDemoScheduling(LoadScopeScheduling):
    """pytest-xdist scheduling by test module, the demo organisation's modules as one.

    A worker takes a whole module (so a module-scoped fixture is built once, not once per
    worker), or all the demo modules, in collection order: the demo modules first.
    """

    def _split_scope(self, nodeid: str) -> str:
        module = _module(nodeid)
        return DEMO_SCOPE if module in DEMO_MODULES else module


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadscope":
        return None
    # In collection order (the demo modules first), not largest scope first.
    config.option.loadscopereorder = False
    return ModuleOrDemoScheduling(config, log)


@contextmanager
def llmledger_home_env(root: Path) -> Iterator[None]:
    """Point ``LLMLEDGER_HOME`` at ``root`` for the duration (the DAG reads it when parsed and
    when its tasks run), then restore whatever was there."""
    before = os.environ.get("LLMLEDGER_HOME")
    os.environ["LLMLEDGER_HOME"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LLMLEDGER_HOME", None)
        else:
            os.environ["LLMLEDGER_HOME"] = before


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The suite's Airflow home, with its metadata DB migrated and the warehouse pool created.

    Migrated once per test run (per xdist worker): a missing pool is silently ignored by
    ``dag.test()``, so the pool is part of the fixture, not of each test.
    """
    from airflow.models.pool import Pool
    from airflow.utils.db import initdb

    from llmledger.airflow_runner import WAREHOUSE_POOL, WAREHOUSE_POOL_DESCRIPTION

    initdb()
    Pool.create_or_update_pool(
        WAREHOUSE_POOL, slots=1, description=WAREHOUSE_POOL_DESCRIPTION, include_deferred=False
    )
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def dag_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty LLM Ledger home with the dbt manifest the DAG renders from (``dbt parse``)."""
    from llmledger.airflow_runner import write_dbt_manifest
    from llmledger.paths import Home

    home = Home(tmp_path_factory.mktemp("dag-home")).ensure()
    write_dbt_manifest(home)
    return home.root


@pytest.fixture(scope="session")
def dagbag(dag_home: Path):
    """The DAG folder parsed once, as the dag-processor would (no examples)."""
    from airflow.dag_processing.dagbag import DagBag

    with llmledger_home_env(dag_home):
        return DagBag(dag_folder=str(DAGS_FOLDER))


# --- the demo organisation, refreshed through Airflow once per test run ---------------------


def _demo_query(home, sql: str) -> list[tuple]:
    from llmledger.warehouse import connect_readonly

    con = connect_readonly(home)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _last_dag_run_state(run_index: int) -> str:
    return dag_runs_in_order()[run_index].state


@pytest.fixture(scope="session")
def demo_run(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo organisation refreshed twice through Airflow: first with every landing file
    new, then, as a backfill of a past date, with nothing new but a billing file re-sent under
    another name (the mapped ingest is skipped; dbt must still run, incrementally).

    Shared by the DAG tests (which check the runs) and by every test that reads the demo
    warehouse (report, saved queries, browser): one demo warehouse per test run."""
    from llmledger import airflow_runner, demo, ingest
    from llmledger.paths import Home

    home = Home(tmp_path_factory.mktemp("demo-home")).ensure()
    summary = demo.generate(home)
    first = airflow_runner.run_dag(home, airflow_home=airflow_home)
    first_state = _last_dag_run_state(-1) if first == 0 else None
    shares_after_first = _demo_query(home, "select * from fct_data_share order by all")
    # Between the runs a vendor re-sends a billing file under another name, and the second
    # run is a backfill of a past date: nothing may change, nothing may be counted twice.
    original = sorted((home.landing / "billing").rglob("*.csv"))[0]
    redelivered = original.with_name("resent-" + original.name)
    redelivered.write_bytes(original.read_bytes())
    pending_before_second = [str(p) for p in ingest.pending_files(home)]
    second = airflow_runner.run_dag(
        home, logical_date=dt.datetime(2026, 1, 15, tzinfo=dt.UTC), airflow_home=airflow_home
    )
    return {
        "home": home,
        "summary": summary,
        "exit_codes": (first, second),
        "first_state": first_state,
        "second_state": _last_dag_run_state(-1),
        "shares_after_first": shares_after_first,
        "redelivered": redelivered,
        "pending_before_second": pending_before_second,
        "run_logs": sorted((home.root / "logs").glob(f"{airflow_runner.DAG_ID}-*.log")),
    }


@pytest.fixture(scope="session")
def demo_warehouse_home(demo_run: dict):
    """The demo organisation's home (an ``llmledger.paths.Home``) with its warehouse built
    through Airflow. Read it only (``connect_readonly``): other tests share it."""
    if demo_run["exit_codes"] != (0, 0):
        pytest.fail(f"the demo refresh through Airflow failed: exit codes {demo_run['exit_codes']}")
    return demo_run["home"]
