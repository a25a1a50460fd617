"""docker-compose.yaml: a complete Airflow 3 deployment that mounts what exists, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmledger import airflow_runner

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())


def test_services(compose):
    assert set(compose["services"]) == {"postgres", "airflow-init", *AIRFLOW_SERVICES}
    for name, command in AIRFLOW_SERVICES.items():
        service = compose["services"][name]
        assert service["command"] == command
        assert "apache/airflow:3.3.2" in service["image"]
        depends_on = service["depends_on"]
        assert depends_on["airflow-init"]["condition"] == "service_completed_successfully"
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert "healthcheck" in service


def test_environment(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/project/dags"
    for key, value in airflow_runner.TELEMETRY_OFF.items():
        assert env[key].lower() == value.lower(), key
    volumes = compose["services"]["airflow-scheduler"]["volumes"]
    home_volume = next(v for v in volumes if v.endswith(":" + env["LLMLEDGER_HOME"]))
    assert home_volume.split(":")[0] in compose["volumes"]


def test_no_secret_is_committed(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    for key in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY",
    ):
        assert "${" in env[key], key
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD"
    )


def test_bind_mounts_exist_in_the_repository(compose):
    mounted = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                mounted.add(source)
                assert (REPO_ROOT / source).exists(), source
    assert {"./dags", "./plugins", "./dbt"} <= mounted


def test_init_prepares_everything_the_dag_needs(compose):
    script = compose["services"]["airflow-init"]["command"][-1]
    assert "pip install --user --no-cache-dir --quiet -r requirements.lock" in script
    assert "--no-deps -e ." in script
    assert "airflow db migrate" in script
    assert f"airflow pools set {airflow_runner.WAREHOUSE_POOL} 1 " in script
    assert "python -m llmledger.airflow_runner manifest" in script
