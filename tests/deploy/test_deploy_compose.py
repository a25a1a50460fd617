"""docker-compose.yaml, Dockerfile and .env.example, checked without a Docker engine.

What can go wrong in a deployment file without a daemon to catch it: a service that runs a
command Airflow does not have, a bind mount of a path the repository does not have, a variable
the compose file reads that .env.example does not explain, a secret committed, an image that
does not install the lock. Each test here fails on one of those.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from llmledger import airflow_runner, deploy
from llmledger.warehouse import TELEMETRY_OFF

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-api-server": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
PROJECT_IN_IMAGE = "/opt/llmledger/project"
# ${NAME}, ${NAME:-default}, ${NAME:?message}; `$${NAME}` is the container's own variable.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::?[-?](?P<rest>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (REPO_ROOT / "docker-compose.yaml").read_text()


@pytest.fixture(scope="module")
def compose(compose_text) -> dict:
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def dockerfile() -> str:
    # Continuation lines joined: one instruction per line.
    return (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")


def _with_defaults(text: str) -> str:
    """``text`` with each compose variable replaced by its default (``${X:-d}`` -> ``d``)."""
    return COMPOSE_VARIABLE.sub(lambda m: m["rest"] or "", text)


def test_every_service_is_there_with_health_checks_and_ordered_start(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "airflow-init", *AIRFLOW_SERVICES}
    for name in ("postgres", *AIRFLOW_SERVICES):
        assert services[name]["healthcheck"]["test"], name
    assert services["airflow-init"]["restart"] == "no"
    for name in AIRFLOW_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["postgres"]["condition"] == "service_healthy", name
        assert depends_on["airflow-init"]["condition"] == "service_completed_successfully", name
        assert services[name]["env_file"] == ".env", name
    assert services["airflow-init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    # The scheduler's LocalExecutor runs tasks against the api-server's execution API.
    scheduler = services["airflow-scheduler"]
    assert scheduler["depends_on"]["airflow-api-server"]["condition"] == "service_healthy"
    assert scheduler["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
        "http://airflow-api-server:8080/"
    )
    assert re.fullmatch(r"postgres:\d+\.\d+(-\w+)?", services["postgres"]["image"])
    assert "env_file" not in services["postgres"]  # it needs none of Airflow's secrets
    assert "postgres-db" in compose["volumes"]


def _airflow_parser():
    from airflow.cli import cli_parser

    return cli_parser.get_parser()


def _parse_airflow(args: list[str]) -> None:
    try:
        _airflow_parser().parse_args(args)
    except SystemExit as exit_:
        pytest.fail(f"`airflow {shlex.join(args)}` is not a valid Airflow 3.3 command ({exit_})")


def test_every_service_command_is_a_real_airflow_command(compose):
    """Parsed by Airflow's own CLI parser (the one `airflow` runs), so a misspelt subcommand or
    option fails here instead of in a crash loop."""
    for name, subcommand in AIRFLOW_SERVICES.items():
        service = compose["services"][name]
        assert "entrypoint" not in service, name  # the image's entrypoint: `airflow`
        assert service["command"][0] == subcommand, name
        _parse_airflow(service["command"])


def test_health_checks_run_real_commands(compose):
    for name in AIRFLOW_SERVICES:
        test = compose["services"][name]["healthcheck"]["test"]
        if test[0] == "CMD-SHELL":
            args = shlex.split(test[1].replace("$${HOSTNAME}", "host"))
            assert args[0] == "airflow", name
            _parse_airflow(args[1:])
        else:
            assert test[:3] == ["CMD", "python", "-c"], name
            compile(test[3], name, "exec")  # valid Python
    postgres = compose["services"]["postgres"]["healthcheck"]["test"]
    assert postgres[0] == "CMD-SHELL" and postgres[1].startswith("pg_isready ")


def test_init_runs_every_setup_step_with_real_commands(compose):
    init = compose["services"]["airflow-init"]
    assert init["entrypoint"] == ["/bin/bash", "-euc"]
    lines = [shlex.split(line) for line in init["command"][0].splitlines() if line.strip()]
    assert lines == [
        ["python", "-m", "llmledger.deploy", "init"],
        ["airflow", "db", "migrate"],
        ["airflow", "pools", "set", airflow_runner.WAREHOUSE_POOL, "1",
         airflow_runner.WAREHOUSE_POOL_DESCRIPTION],
        ["python", "-m", "llmledger.airflow_runner", "manifest"],
    ]  # fmt: skip
    for args in lines:
        if args[0] == "airflow":
            _parse_airflow(args[1:])
    # The llmledger module entry points accept exactly these arguments (argparse exits 2 if not).
    with pytest.raises(SystemExit) as exit_:
        deploy.main(["init", "--no-such-option"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        airflow_runner.main(["manifest", "--no-such-option"])
    assert exit_.value.code == 2


def test_every_mounted_host_path_exists_in_the_repository(compose):
    mounted = {}
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source, target = _with_defaults(volume).split(":")[:2]
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name}: {source}"
                mounted[source] = target
            else:
                assert source in compose["volumes"], f"{name}: named volume {source} not declared"
    assert mounted == {
        "./dags": f"{PROJECT_IN_IMAGE}/dags",
        "./plugins": f"{PROJECT_IN_IMAGE}/plugins",
        "./sql": f"{PROJECT_IN_IMAGE}/sql",
        "./dbt": f"{PROJECT_IN_IMAGE}/dbt",
        "./deploy/landing": "/opt/llmledger/home/landing",
    }


def test_airflow_environment(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # Airflow 3.3 derives a missing async URL as postgresql+asyncpg (not installed).
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == env[
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    ].replace("postgresql+psycopg://", "postgresql+psycopg_async://")
    lock = (REPO_ROOT / "requirements-deploy.lock").read_text()
    assert "psycopg==" in lock
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{PROJECT_IN_IMAGE}/dags"
    for key, value in TELEMETRY_OFF.items():
        assert env[key].lower() == value.lower(), key
    assert env["AIRFLOW__USAGE_DATA_COLLECTION__ENABLED"] == "False"
    volumes = compose["services"]["airflow-scheduler"]["volumes"]
    assert f"llmledger-home:{env['LLMLEDGER_HOME']}" in volumes


def test_login_is_required(compose):
    """An explicit auth manager on every Airflow service, no all-admins shortcut, the admin
    from .env and its password file on a volume only Airflow mounts."""
    for name in ("airflow-init", *AIRFLOW_SERVICES):
        env = compose["services"][name]["environment"]
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ), name
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False", name
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].startswith(
            "${AIRFLOW_ADMIN_USERNAME:?"
        ), name
        passwords = env[deploy.PASSWORDS_FILE_SETTING]
        assert any(
            v.startswith("airflow-auth:") and passwords.startswith(v.split(":")[1] + "/")
            for v in compose["services"][name]["volumes"]
        ), name
    assert "volumes" not in compose["services"]["postgres"] or all(
        not v.startswith("airflow-auth") for v in compose["services"]["postgres"]["volumes"]
    )


def test_no_secret_has_a_value_in_the_compose_file(compose_text, compose):
    """Every secret is a required variable (`${X:?...}`): no default a deployment could
    silently run with."""
    required = {m["name"] for m in COMPOSE_VARIABLE.finditer(compose_text) if ":?" in m[0]}
    assert set(deploy.REQUIRED_SECRETS) <= required
    for m in COMPOSE_VARIABLE.finditer(compose_text):
        if m["name"] in deploy.REQUIRED_SECRETS:
            assert ":?" in m[0], m[0]
    env = compose["services"]["airflow-api-server"]["environment"]
    for key in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
    ):
        assert "${" in env[key], key


def test_env_example_explains_every_variable_and_holds_no_secret(compose_text, env_example):
    used = {m["name"] for m in COMPOSE_VARIABLE.finditer(compose_text)}
    assert used <= set(env_example), sorted(used - set(env_example))
    # Every secret is a placeholder, and the deployment refuses to start with it.
    for name in deploy.REQUIRED_SECRETS:
        assert deploy.PLACEHOLDER_MARK in env_example[name], name
    for key, value in env_example.items():
        if re.search(r"PASSWORD|SECRET|KEY", key):
            assert value == "" or deploy.PLACEHOLDER_MARK in value, key
    with pytest.raises(deploy.DeployConfigError) as err:
        deploy.check_secrets(env_example)
    for name in deploy.REQUIRED_SECRETS:
        assert name in str(err.value)


def test_env_is_gitignored_and_env_example_is_not():
    def ignored(path: str) -> bool:
        proc = subprocess.run(
            ["git", "check-ignore", "--no-index", "-q", path], cwd=REPO_ROOT, check=False
        )
        return proc.returncode == 0

    assert ignored(".env")
    assert ignored(".env.production")
    assert not ignored(".env.example")
    dockerignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in dockerignore and "!.env.example" in dockerignore


def test_image_installs_the_lock_as_the_makefile_does(dockerfile):
    makefile = (REPO_ROOT / "Makefile").read_text()
    uv_version = re.search(r"^UV_VERSION := (\S+)$", makefile, re.M)[1]
    assert f"ARG UV_VERSION={uv_version}" in dockerfile
    lock_header = (REPO_ROOT / "requirements.lock").read_text()
    python = re.search(r"--python-version (\d+\.\d+)", lock_header)[1]
    assert re.search(rf"^FROM python:{re.escape(python)}-slim", dockerfile, re.M)
    runs = [line for line in dockerfile.splitlines() if line.startswith("RUN ")]
    installs = [part for run in runs for part in run.split("&&") if "uv pip install" in part]
    assert len(installs) == 2, installs
    deps, project = (shlex.split(part) for part in installs)
    assert "-r" in deps and deps[deps.index("-r") + 1] == "requirements.lock"
    assert deps.count("-r") == 2 and "requirements-deploy.lock" in deps
    # Byte-compiled as `make install` does: the image sets PYTHONDONTWRITEBYTECODE.
    assert "--compile-bytecode" in deps and "--compile-bytecode" in makefile
    assert project[-3:] == ["--no-deps", "-e", "."]
    assert "COPY requirements.lock requirements-deploy.lock ./" in dockerfile
    # Only exact pins, as in requirements.lock.
    for line in (REPO_ROOT / "requirements-deploy.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", line.strip()), line


def test_image_runs_as_non_root_with_telemetry_off_and_no_secret(dockerfile):
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    for key, value in TELEMETRY_OFF.items():
        assert re.search(rf"\b{key}={re.escape(value)}\b", dockerfile, re.I), key
    assert "AIRFLOW_HOME=/opt/airflow" in dockerfile
    assert not re.search(r"PASSWORD|SECRET|FERNET|JWT", dockerfile.split("\n", 8)[-1])
    for copied in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for source in copied.split():
            assert (REPO_ROOT / source).exists(), source
            assert not source.startswith(".env"), source
