"""The REST API of a real Airflow deployment lists the nightly DAG, and only to a logged-in user.

Starts ``airflow api-server`` and ``airflow dag-processor`` (the two services of the compose
deployment that this needs: the dag-processor parses ``dags/`` into the metadata DB, the
api-server serves it) on loopback, on a free port, with a throwaway ``AIRFLOW_HOME``, a copy of
the suite's migrated SQLite metadata DB, the project's DAG folder and the auth manager
configured exactly as docker-compose.yaml configures it: ``SimpleAuthManager`` with one admin
whose password is in a file the deployment writes. About 20-30 s; both processes are stopped
(their whole process group) at the end, pass or fail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(
    url: str, data: dict | None = None, token: str | None = None
) -> tuple[int, dict | str]:
    headers = {"Accept": "application/json"}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers)
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


@pytest.fixture
def deployment(dag_home: Path, tmp_path: Path) -> Iterator[dict]:
    """api-server + dag-processor on loopback; yields the base URL; stops both at the end."""
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


def _wait_for(what: str, check, deployment: dict) -> object:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
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
    pytest.fail(f"timed out after {STARTUP_TIMEOUT_S} s waiting for {what}:\n{logs}")


def test_dag_is_listed_through_the_rest_api_only_with_authentication(deployment):
    url = deployment["url"]

    def healthy():
        try:
            return _request(f"{url}/api/v2/monitor/health")[0] == 200
        except OSError:
            return False

    _wait_for("the api-server to answer", healthy, deployment)

    # Refused without a token, with a forged token, and with a wrong password.
    status, body = _request(f"{url}/api/v2/dags")
    assert status in (401, 403), body
    status, body = _request(f"{url}/api/v2/dags", token="not-a-jwt")
    assert status in (401, 403), body
    status, body = _request(f"{url}/auth/token", {"username": USERNAME, "password": "wrong"})
    assert status == 401, body

    status, body = _request(f"{url}/auth/token", {"username": USERNAME, "password": PASSWORD})
    assert status == 201, body
    token = body["access_token"]

    def listed():
        status, body = _request(f"{url}/api/v2/dags", token=token)
        assert status == 200, body
        return {dag["dag_id"]: dag for dag in body["dags"]}.get(airflow_runner.DAG_ID)

    dag = _wait_for("the dag-processor to parse the nightly DAG", listed, deployment)
    assert dag["fileloc"].endswith("dags/llmledger_nightly.py")
    assert dag["tags"][0]["name"] == "llmledger"

    # Nothing but the project's DAG (no examples), and no import error for it.
    status, body = _request(f"{url}/api/v2/dags", token=token)
    assert [d["dag_id"] for d in body["dags"]] == [airflow_runner.DAG_ID]
    status, body = _request(f"{url}/api/v2/importErrors", token=token)
    assert status == 200 and body["import_errors"] == [], body
