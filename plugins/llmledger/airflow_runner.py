"""Running the nightly DAG through Airflow on one machine, and what the DAG file needs to know.

``llmledger run`` and ``make demo`` use :func:`run_dag`: an embedded Airflow (SQLite metadata
DB in ``<home>/airflow``, no scheduler, no server) that executes one run of
``llmledger_nightly`` with ``airflow dags test``, so the refresh goes through the same DAG,
task graph, pool and trigger rules as in production.

This module is imported by the DAG file at parse time, so it imports nothing heavy (nor does
``llmledger.warehouse``, whose dbt facts it reuses).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import gc
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from llmledger.collector import freeze_until_exit
from llmledger.paths import Home
from llmledger.warehouse import (  # noqa: F401 - the DAG reads the dbt facts from here
    DBT_PROFILES_YML,
    DBT_PROJECT_DIR,
    KEEP_OPEN_ENV,
    TELEMETRY_OFF,
    BuildFailed,
    dbt_env,
    dbt_executable,
    run_dbt,
)

DAG_ID = "llmledger_nightly"
WAREHOUSE_POOL = "llmledger_warehouse"
WAREHOUSE_POOL_DESCRIPTION = "DuckDB allows one writer: every task that opens warehouse.duckdb"

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
PACKAGE_PARENT = Path(__file__).resolve().parents[1]


def dbt_task_env(home: Home) -> dict[str, str]:
    """``llmledger.warehouse.dbt_env(home)`` for the DAG's dbt tasks, less ``DBT_TARGET_PATH``,
    with the profile's keep_open off.

    Cosmos runs every node in a temporary copy of the project and carries dbt's
    ``partial_parse.msgpack`` from one node to the next through the copy's ``target/``. Moving
    the target elsewhere makes every node parse the whole project again.
    A task runs dbt in its own process, where a read-only task may open the warehouse next
    (``dag.test()`` runs every task in one process): each node releases the file, whatever the
    worker's environment says of :data:`KEEP_OPEN_ENV`.
    """
    env = {key: value for key, value in dbt_env(home).items() if key != "DBT_TARGET_PATH"}
    return {**env, KEEP_OPEN_ENV: "false"}


def freeze_what_the_worker_holds(context: object = None) -> None:
    """``on_execute_callback`` of the DAG's dbt tasks: the worker's long-lived objects leave
    the cyclic garbage collector's sight before dbt runs.

    Cosmos ends every node it runs in-process with a full ``gc.collect()`` (to release dbt's
    adapter semaphores), which walks every object of the worker: Airflow, SQLAlchemy, dbt,
    Cosmos. That was 0.64 s of each dbt task's 1.6 s (py-spy); a demo night with no new file
    took 127 s through Airflow, 91 s frozen, at the same peak memory (620 MB). Collected,
    then frozen, the worker's objects are skipped by that collection, which walks only what
    the node made, and still frees the node's garbage. What is frozen is thawed once at the
    interpreter's exit, however many tasks ran in the process.
    """
    gc.collect()  # nothing unreachable is frozen (after the first task, a short walk)
    freeze_until_exit()


def dbt_manifest_path(home: Home) -> Path:
    """Where :func:`write_dbt_manifest` puts the manifest the DAG renders dbt from.

    Per home, because ``dbt parse`` renders ``env_var('LLMLEDGER_HOME')`` into it.
    """
    return home.root / "dbt_manifest" / "manifest.json"


def write_dbt_manifest(home: Home) -> Path:
    """``dbt parse`` the project into :func:`dbt_manifest_path` (about 5 s) and return it.

    The DAG renders its dbt task group from this file, so it must be written before Airflow
    parses the DAG and again whenever the dbt project changes.
    """
    target = dbt_manifest_path(home).parent
    proc = run_dbt(home, ["parse"], target=target)
    if proc.returncode != 0:
        raise BuildFailed(f"dbt parse failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}")
    return target / "manifest.json"


def airflow_env(home: Home, airflow_home: Path | None = None) -> dict[str, str]:
    """Environment of the embedded Airflow for ``home`` (added to ``os.environ``)."""
    airflow_home = airflow_home or home.airflow_home
    paths = (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH"))
    pythonpath = os.pathsep.join(p for p in paths if p)
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Airflow sizes worker pools from this; the default (32) is absurd for one laptop run.
        "AIRFLOW__CORE__PARALLELISM": "4",
        # The dbt task group alone has dozens of tasks; the default 30 s parse timeout is
        # tight on a cold start.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "LLMLEDGER_HOME": str(home.root),
        # The package may be used from the source tree without being installed.
        "PYTHONPATH": pythonpath,
        **TELEMETRY_OFF,
    }


def _airflow(args: list[str], env: dict[str, str], quiet: bool = False) -> int:
    cmd = [str(Path(sys.executable).parent / "airflow"), *args]
    if quiet:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        return proc.returncode
    return subprocess.run(cmd, env=env, check=False).returncode


def prepare_airflow(home: Home, airflow_home: Path | None = None) -> dict[str, str]:
    """Create the metadata DB if it does not exist and the one-slot warehouse pool.

    Returns the full environment for Airflow subprocesses. Raises ``RuntimeError`` if either
    step fails.
    """
    env = {**os.environ, **airflow_env(home, airflow_home)}
    airflow_home_dir = Path(env["AIRFLOW_HOME"])
    airflow_home_dir.mkdir(parents=True, exist_ok=True)
    db_missing = not (airflow_home_dir / "airflow.db").exists()
    if db_missing and _airflow(["db", "migrate"], env, quiet=True) != 0:
        raise RuntimeError(f"`airflow db migrate` failed in {airflow_home_dir}")
    # dag.test() silently ignores a pool that does not exist, so create it every time.
    pool_args = ["pools", "set", WAREHOUSE_POOL, "1", WAREHOUSE_POOL_DESCRIPTION]
    if _airflow(pool_args, env, quiet=True) != 0:
        raise RuntimeError(f"could not create the Airflow pool {WAREHOUSE_POOL}")
    return env


def run_dag(
    home: Home,
    logical_date: dt.datetime | None = None,
    airflow_home: Path | None = None,
    stream: bool = False,
) -> int:
    """Run ``llmledger_nightly`` once through the embedded Airflow; returns the exit code.

    Airflow's output goes to :func:`run_log_path` with one progress line per finished task on
    stdout, or all of it to stdout with ``stream``. Non-zero when any step fails, including a
    DAG run that ends failed (``airflow dags test`` exits 1 then). ``airflow_home`` defaults
    to ``<home>/airflow``.
    """
    home.root.mkdir(parents=True, exist_ok=True)
    env = prepare_airflow(home, airflow_home)
    write_dbt_manifest(home)
    args = ["dags", "test", DAG_ID]
    if logical_date is not None:
        args.append(logical_date.isoformat())
    if stream:
        return _airflow(args, env)
    return _airflow_logged(args, env, run_log_path(home))


def run_log_path(home: Home) -> Path:
    """Where the full Airflow output of a run goes: ``<home>/logs/llmledger_nightly-<UTC>.log``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return home.root / "logs" / f"{DAG_ID}-{stamp}.log"


_TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(?P<task>\S+) map_index=(?P<index>-?\d+)")


def _airflow_logged(args: list[str], env: dict[str, str], log_path: Path) -> int:
    """Run Airflow with its (long) output going to ``log_path``; print one progress line per
    finished task, and on failure the log's last lines and where the whole log is."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).parent / "airflow"), *args]
    print(f"running {DAG_ID} through Airflow; full log: {log_path}", flush=True)
    tail: collections.deque[str] = collections.deque(maxlen=60)
    started = time.monotonic()
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            tail.append(line)
            match = _TASK_END.search(line)
            if match:
                index = int(match["index"])
                task_label = match["task"] + (f"[{index}]" if index >= 0 else "")
                print(f"  {time.monotonic() - started:7.1f}s  done  {task_label}", flush=True)
        code = proc.wait()
    if code != 0:
        sys.stderr.write("".join(tail))
        sys.stderr.write(f"\n{DAG_ID} failed (exit {code}); full log: {log_path}\n")
    return code


def main(argv: list[str] | None = None) -> int:
    """``python -m llmledger.airflow_runner manifest [--home DIR]``: write the dbt manifest the
    DAG renders from (deployments run it at start-up, e.g. the docker-compose init service)."""
    parser = argparse.ArgumentParser(prog="python -m llmledger.airflow_runner")
    parser.add_argument("command", choices=["manifest"])
    parser.add_argument("--home", default=None)
    args = parser.parse_args(argv)
    home = Home.resolve(args.home).ensure()
    print(f"dbt manifest written to {write_dbt_manifest(home)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
