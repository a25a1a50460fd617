"""A real Airflow deployment: its REST API lists the nightly DAG only to a logged-in user, and
its scheduler makes a manual run wait while another run is active (no second writer).

Starts ``airflow api-server``, ``airflow dag-processor`` and ``airflow scheduler``
(LocalExecutor, as in the compose deployment; the triggerer is not needed) on loopback, on a
free port, with a throwaway ``AIRFLOW_HOME``, a freshly migrated SQLite metadata DB, the
project's DAG folder and the auth manager configured exactly as docker-compose.yaml configures
it: ``SimpleAuthManager`` with one admin whose password is in a file the deployment writes.
The tests of this module share one deployment (start-up is the slow part): about 40-60 s in
all; every process is stopped (its whole process group) at the end, pass or fail.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from llmledger import airflow_runner
from llmledger.paths import Home

pytestmark = pytest.mark.airflow

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
USERNAME = "ledger-admin"
# Generated per test run: the test proves login works with whatever the operator configured.
PASSWORD = "pw-" + os.urandom(9).hex()
STARTUP_TIMEOUT_S = 75
# How long a manual run must stay queued behind the active run: several scheduler loops.
QUEUED_WINDOW_S = 10
RUN_STATE_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(
    url: str, data: dict | None = None, token: str | None = None, method: str | None = None
) -> tuple[int, dict | str]:
    headers = {"Accept": "application/json"}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _compose_auth_settings() -> dict[str, str]:
    """The auth settings of the compose deployment's Airflow services (the test must check the
    configuration a team deploys, not one of its own)."""
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())
    env = compose["services"]["airflow-api-server"]["environment"]
    return {
        key: env[key]
        for key in ("AIRFLOW__CORE__AUTH_MANAGER", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS")
    }


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (uvicorn and parser children included), SIGKILL if needed."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def deployment(dag_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """api-server + dag-processor + scheduler on loopback; yields the base URL; stops all three
    at the end."""
    tmp_path = tmp_path_factory.mktemp("deployment")
    home = tmp_path / "airflow"
    home.mkdir()
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USERNAME: PASSWORD}))
    passwords.chmod(0o600)
    port = _free_port()
    env = {
        **os.environ,
        **airflow_runner.airflow_env(Home(dag_home), home),
        **_compose_auth_settings(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        # Parse the folder at once, not after the default refresh interval.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # LocalExecutor starts this many worker processes; no task runs here anyway.
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }
    migrate = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        for name, args in (
            ("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(port), "-w", "1"]),
            ("dag-processor", ["dag-processor"]),
            ("scheduler", ["scheduler"]),
        ):
            log = (tmp_path / f"{name}.log").open("w")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [AIRFLOW, *args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        yield {"url": f"http://127.0.0.1:{port}", "procs": procs, "logs": tmp_path}
    finally:
        for proc in procs:
            _stop(proc)
        for log in logs:
            log.close()


def _wait_for(what: str, check, deployment: dict, timeout_s: float = STARTUP_TIMEOUT_S) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in deployment["procs"]:
            if proc.poll() is not None:
                logs = "\n".join(p.read_text()[-3000:] for p in deployment["logs"].glob("*.log"))
                pytest.fail(f"{proc.args[1]} exited with {proc.returncode} before {what}:\n{logs}")
        result = check()
        if result:
            return result
        time.sleep(0.5)
    logs = "\n".join(p.read_text()[-3000:] for p in deployment["logs"].glob("*.log"))
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}:\n{logs}")


def _quote(run_id: str) -> str:
    # Run ids hold a timestamp ("scheduled__2026-12-06T00:00:00+00:00").
    return urllib.parse.quote(run_id, safe="")


def _time(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso)


def _wait_healthy(deployment: dict) -> None:
    url = deployment["url"]

    def healthy():
        try:
            return _request(f"{url}/api/v2/monitor/health")[0] == 200
        except OSError:
            return False

    _wait_for("the api-server to answer", healthy, deployment)


def _token(url: str) -> str:
    status, body = _request(f"{url}/auth/token", {"username": USERNAME, "password": PASSWORD})
    assert status == 201, body
    return body["access_token"]


def _wait_listed(deployment: dict, token: str) -> dict:
    url = deployment["url"]

    def listed():
        status, body = _request(f"{url}/api/v2/dags", token=token)
        assert status == 200, body
        return {dag["dag_id"]: dag for dag in body["dags"]}.get(airflow_runner.DAG_ID)

    return _wait_for("the dag-processor to parse the nightly DAG", listed, deployment)


def test_dag_is_listed_through_the_rest_api_only_with_authentication(deployment):
    url = deployment["url"]
    _wait_healthy(deployment)

    # Refused without a token, with a forged token, and with a wrong password.
    status, body = _request(f"{url}/api/v2/dags")
    assert status in (401, 403), body
    status, body = _request(f"{url}/api/v2/dags", token="not-a-jwt")
    assert status in (401, 403), body
    status, body = _request(f"{url}/auth/token", {"username": USERNAME, "password": "wrong"})
    assert status == 401, body

    token = _token(url)
    dag = _wait_listed(deployment, token)
    assert dag["fileloc"].endswith("dags/llmledger_nightly.py")
    assert dag["tags"][0]["name"] == "llmledger"

    # Nothing but the project's DAG (no examples), and no import error for it.
    status, body = _request(f"{url}/api/v2/dags", token=token)
    assert [d["dag_id"] for d in body["dags"]] == [airflow_runner.DAG_ID]
    status, body = _request(f"{url}/api/v2/importErrors", token=token)
    assert status == 200 and body["import_errors"] == [], body


def test_a_manual_run_waits_while_the_scheduled_run_is_active(deployment):
    """Run A is the scheduled run the scheduler creates itself once the DAG is unpaused; run B is
    triggered by hand (as from the UI's play button) while A is running. B stays queued through
    several scheduler loops, never two runs are running, and B starts once A has ended: it
    waited, it was not dropped.

    No task runs: the default pool (where ``prepare`` and ``list_new_files`` sit) is set to 0
    slots first, so A stays running until the test ends it. The test does not depend on how long
    tasks take and writes nothing into the shared test home; ``max_active_runs`` gates runs, not
    tasks, so runs are what it must hold back.
    """
    url = deployment["url"]
    runs_url = f"{url}/api/v2/dags/{airflow_runner.DAG_ID}/dagRuns"
    _wait_healthy(deployment)
    token = _token(url)
    dag = _wait_listed(deployment, token)
    assert dag["max_active_runs"] == 1, dag
    assert dag["is_paused"], "DAGs should be created paused, as in the compose deployment"

    # The default pool can be patched only with an explicit update_mask (400 otherwise).
    pool_url = f"{url}/api/v2/pools/default_pool?update_mask=slots"
    status, body = _request(pool_url, {"slots": 0}, token, "PATCH")
    assert status == 200 and body["slots"] == 0, body
    status, body = _request(
        f"{url}/api/v2/dags/{airflow_runner.DAG_ID}", {"is_paused": False}, token, "PATCH"
    )
    assert status == 200 and body["is_paused"] is False, body

    def runs() -> dict[str, dict]:
        status, body = _request(runs_url, token=token)
        assert status == 200, body
        found = {run["dag_run_id"]: run for run in body["dag_runs"]}
        running = [run_id for run_id, run in found.items() if run["state"] == "running"]
        assert len(running) <= 1, f"two runs running at once: {running}"
        return found

    def running_scheduled_run():
        scheduled = [r for r in runs().values() if r["run_type"] == "scheduled"]
        return scheduled[0] if scheduled and scheduled[0]["state"] == "running" else None

    run_a = _wait_for(
        "the scheduler to start the scheduled run", running_scheduled_run, deployment
    )["dag_run_id"]

    # `logical_date` is required in the body (null would make a run without one); now, as the
    # UI's trigger button does.
    status, body = _request(
        runs_url, {"logical_date": dt.datetime.now(dt.UTC).isoformat()}, token, "POST"
    )
    assert status == 200, body
    run_b = body["dag_run_id"]
    assert body["run_type"] == "manual" and body["state"] == "queued", body

    heartbeat_before = _request(f"{url}/api/v2/monitor/health")[1]["scheduler"]
    deadline = time.monotonic() + QUEUED_WINDOW_S
    while time.monotonic() < deadline:
        now = runs()
        assert now[run_a]["state"] == "running", now[run_a]
        assert now[run_b]["state"] == "queued", now[run_b]
        time.sleep(0.5)
    heartbeat_after = _request(f"{url}/api/v2/monitor/health")[1]["scheduler"]
    # The scheduler was alive and looping all along: B waited for A, not for a dead scheduler.
    assert heartbeat_after["status"] == "healthy", heartbeat_after
    assert _time(heartbeat_after["latest_scheduler_heartbeat"]) > _time(
        heartbeat_before["latest_scheduler_heartbeat"]
    ), (heartbeat_before, heartbeat_after)

    status, body = _request(f"{runs_url}/{_quote(run_a)}", {"state": "failed"}, token, "PATCH")
    assert status == 200 and body["state"] == "failed", body
    _wait_for(
        "the queued manual run to start once the scheduled run ended",
        lambda: runs()[run_b]["state"] == "running",
        deployment,
        RUN_STATE_TIMEOUT_S,
    )
    # Between samples too: B started only after A ended.
    final = runs()
    a_ended, b_started = _time(final[run_a]["end_date"]), _time(final[run_b]["start_date"])
    assert b_started >= a_ended, (final[run_a], final[run_b])

    status, body = _request(f"{runs_url}/{_quote(run_b)}", {"state": "failed"}, token, "PATCH")
    assert status == 200 and body["state"] == "failed", body
