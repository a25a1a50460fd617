"""The DAG's failure callback, called with fake Airflow contexts (no Airflow running)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from llmledger import alerts
from llmledger.config import ConfigError, ConfigIssue
from llmledger.freshness import FreshnessFailed, FreshnessResult, SourceFreshness, Threshold

RECEIVED: list[alerts.FailureAlert] = []


def notify(alert: alerts.FailureAlert) -> None:
    """A notifier as a team would write one (this module is importable in the tests)."""
    RECEIVED.append(alert)


def broken_notify(alert: alerts.FailureAlert) -> None:
    raise ConnectionError("webhook unreachable")


def _context(task_id: str, exception: BaseException | None, map_index: int = -1) -> dict:
    ti = SimpleNamespace(
        task_id=task_id,
        dag_id="llmledger_nightly",
        map_index=map_index,
        try_number=3,
        log_url="http://airflow.example/log",
    )
    dag_run = SimpleNamespace(dag_id="llmledger_nightly", run_id="scheduled__2026-11-21")
    return {
        "ti": ti,
        "dag_run": dag_run,
        "run_id": "scheduled__2026-11-21",
        "logical_date": "2026-11-21T00:00:00+00:00",
        "exception": exception,
    }


class _Outcome(SimpleNamespace):
    pass


def _validation_failed() -> Exception:
    """Shaped like llmledger.validation.marts.ValidationFailed (which imports GX: too slow)."""
    error = RuntimeError("mart validation failed (2 fail-severity check(s)): ...")
    error.result = SimpleNamespace(
        failures=[_Outcome(name="reconciliation_passed"), _Outcome(name="allocation_conserved")]
    )
    return error


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    RECEIVED.clear()
    monkeypatch.delenv(alerts.CALLBACK_ENV, raising=False)


def test_default_logs_an_error_naming_dag_task_run_and_the_failing_check(caplog):
    with caplog.at_level(logging.ERROR, logger="llmledger.alerts"):
        alerts.on_failure_callback(_context("validate", _validation_failed()))
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    text = record.getMessage()
    assert "task validate of DAG llmledger_nightly failed" in text
    assert "run scheduled__2026-11-21, try 3" in text
    assert "failing check: mart check reconciliation_passed, allocation_conserved" in text
    assert "log: http://airflow.example/log" in text


def test_the_configured_notifier_gets_the_alert(monkeypatch, caplog):
    monkeypatch.setenv(alerts.CALLBACK_ENV, f"{__name__}:notify")
    stale = SourceFreshness("focus", "error", None, None, Threshold("focus", 36, 72))
    alerts.on_failure_callback(_context("freshness", FreshnessFailed(FreshnessResult((stale,)))))
    [alert] = RECEIVED
    assert alert.failing_check == "source freshness of raw.focus"
    assert alert.task_id == "freshness" and alert.run_id == "scheduled__2026-11-21"
    assert "source freshness failed (1 stale source(s))" in alert.error
    # The dotted form with a dot before the function works too.
    monkeypatch.setenv(alerts.CALLBACK_ENV, f"{__name__}.notify")
    alerts.on_failure_callback(_context("prepare", ValueError("x")))
    assert len(RECEIVED) == 2


def test_a_broken_or_missing_notifier_is_logged_and_does_not_raise(monkeypatch, caplog):
    monkeypatch.setenv(alerts.CALLBACK_ENV, f"{__name__}:broken_notify")
    with caplog.at_level(logging.ERROR, logger="llmledger.alerts"):
        alerts.on_failure_callback(_context("headline", OSError("disk full")))
    messages = [r.getMessage() for r in caplog.records]
    assert "failing check: OSError in task headline" in messages[0]
    assert f"the alert notifier {__name__}:broken_notify failed" in messages[1]
    assert "webhook unreachable" in caplog.records[1].exc_text

    monkeypatch.setenv(alerts.CALLBACK_ENV, "no_such_module_xyz:notify")
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="llmledger.alerts"):
        alerts.on_failure_callback(_context("headline", OSError("disk full")))
    assert "cannot import it" in caplog.records[1].exc_text


@pytest.mark.parametrize(
    "spec, message",
    [
        ("notify", "expected a dotted path"),
        ("llmledger.alerts:CALLBACK_ENV", "str is not callable"),
        ("llmledger.alerts:nope", "cannot import it"),
    ],
)
def test_bad_notifier_specs_say_why(spec, message):
    with pytest.raises(alerts.AlertConfigError, match=message):
        alerts.resolve_notifier(spec)


def test_failing_check_for_config_dbt_and_mapped_tasks():
    error = ConfigError(
        [
            ConfigIssue("datasets.csv", 3, "tokens", "-1", "a number >= 0"),
            ConfigIssue("freshness.yaml", None, "focus.warn_after_hours", "0", "> 0"),
        ]
    )
    assert alerts.failing_check("prepare", error) == (
        "config validation of config/datasets.csv, config/freshness.yaml"
    )
    assert alerts.failing_check("dbt.fct_data_share_model_build", RuntimeError("exit 1")) == (
        "dbt node fct_data_share_model_build"
    )
    alert = alerts.alert_from_context(_context("ingest_one", ValueError("bad"), map_index=4))
    assert alert.text().startswith("LLM Ledger: task ingest_one[4] of DAG llmledger_nightly")
    assert alerts.alert_from_context({"exception": None}).failing_check == (
        "task ? (no exception recorded)"
    )
