"""What happens when a task of the nightly DAG fails: the failure callback and its notifier.

Every task of ``llmledger_nightly`` has :func:`on_failure_callback` as its Airflow
``on_failure_callback`` (it runs once a task has failed for good, after its retries). It turns
Airflow's context into a :class:`FailureAlert` (DAG, task, run, try, the failing check and the
error) and

- always logs it as an error (``llmledger.alerts`` logger, in the task's log), then
- if ``LLMLEDGER_ALERT_CALLBACK`` is set, calls that notifier with the alert. The value is a
  dotted path, ``package.module:function`` (or ``package.module.function``), importable where
  the task runs: in the compose deployment, a module under ``plugins/``. A notifier that cannot
  be imported or raises is logged as an error too; it never hides the original failure.

A notifier is a plain function ``notify(alert: FailureAlert) -> None``: post ``alert.text()``
to a chat webhook, open a ticket, page someone. It is called with no Airflow import needed and
can be unit-tested with a hand-made alert.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

CALLBACK_ENV = "LLMLEDGER_ALERT_CALLBACK"
# The prefix of the tasks Cosmos renders from dbt nodes: their failing check is the dbt node.
DBT_TASK_PREFIX = "dbt."


@dataclass(frozen=True)
class FailureAlert:
    """One failed task of one DAG run: what a notifier needs to tell people."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int | None
    logical_date: str | None
    failing_check: str
    error: str
    log_url: str | None = None

    def text(self) -> str:
        """The alert as a few lines of plain text (the default log message)."""
        task = self.task_id + (f"[{self.map_index}]" if self.map_index >= 0 else "")
        lines = [
            f"LLM Ledger: task {task} of DAG {self.dag_id} failed "
            f"(run {self.run_id}, try {self.try_number})",
            f"failing check: {self.failing_check}",
            f"error: {self.error}",
        ]
        if self.log_url:
            lines.append(f"log: {self.log_url}")
        return "\n".join(lines)


class AlertConfigError(ValueError):
    """``LLMLEDGER_ALERT_CALLBACK`` does not name a callable; the message says why."""


def failing_check(task_id: str, exception: BaseException | None) -> str:
    """The name of what failed, as precise as the exception allows.

    Mart checks (``ValidationFailed``): the names of the fail-severity checks. Source freshness
    (``FreshnessFailed``): the stale sources. Config (``ConfigError``): the config files with a
    problem. A dbt task: the dbt node. Otherwise the exception type.
    """
    result = getattr(exception, "result", None)
    failures = getattr(result, "failures", None)
    if failures:
        return "mart check " + ", ".join(outcome.name for outcome in failures)
    stale = getattr(exception, "failing_sources", None)
    if stale:
        return "source freshness of " + ", ".join(stale)
    issues = getattr(exception, "issues", None)
    if issues:
        files = sorted({f"config/{issue.file}" for issue in issues if hasattr(issue, "file")})
        if files:
            return "config validation of " + ", ".join(files)
    if task_id.startswith(DBT_TASK_PREFIX):
        return "dbt node " + task_id.removeprefix(DBT_TASK_PREFIX)
    if exception is None:
        return f"task {task_id} (no exception recorded)"
    return f"{type(exception).__name__} in task {task_id}"


def _first_lines(text: str, limit: int = 20) -> str:
    lines = text.strip().splitlines()
    shown = "\n".join(lines[:limit])
    return shown + (f"\n... ({len(lines) - limit} more lines)" if len(lines) > limit else "")


def alert_from_context(context: Mapping[str, Any]) -> FailureAlert:
    """Build the alert from an Airflow task context (only plain attributes are read, so a fake
    context made of simple objects works)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    exception = context.get("exception")
    task_id = str(getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", "?"))
    dag_id = str(getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", "?"))
    run_id = str(context.get("run_id") or getattr(dag_run, "run_id", None) or "?")
    logical_date = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    map_index = getattr(ti, "map_index", -1)
    return FailureAlert(
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        map_index=map_index if isinstance(map_index, int) else -1,
        try_number=getattr(ti, "try_number", None),
        logical_date=None if logical_date is None else str(logical_date),
        failing_check=failing_check(task_id, exception),
        error=_first_lines(str(exception)) if exception is not None else "(none recorded)",
        log_url=getattr(ti, "log_url", None),
    )


def resolve_notifier(spec: str) -> Callable[[FailureAlert], Any]:
    """Import the notifier named ``package.module:function`` or ``package.module.function``."""
    module_name, sep, attr = spec.strip().partition(":")
    if not sep:
        module_name, _, attr = spec.strip().rpartition(".")
    if not module_name or not attr:
        raise AlertConfigError(
            f"{CALLBACK_ENV}={spec!r}: expected a dotted path such as mypkg.alerts:notify"
        )
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise AlertConfigError(f"{CALLBACK_ENV}={spec!r}: cannot import it ({err})") from err
    if not callable(target):
        raise AlertConfigError(f"{CALLBACK_ENV}={spec!r}: {type(target).__name__} is not callable")
    return target


def on_failure_callback(context: Mapping[str, Any]) -> None:
    """The DAG's ``on_failure_callback``: log the alert, then call the configured notifier."""
    alert = alert_from_context(context)
    log.error("%s", alert.text())
    spec = os.environ.get(CALLBACK_ENV, "").strip()
    if not spec:
        return
    try:
        resolve_notifier(spec)(alert)
    except Exception:
        # The task has failed already; a broken notifier must not hide that or mask the cause.
        log.exception("the alert notifier %s failed; the alert above was not delivered", spec)
