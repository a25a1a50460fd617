"""Source freshness per raw kind: is each feed still delivering?

``dbt source freshness`` measures, for each raw source (``focus``, ``annotation_invoice``,
``slurm_job``, ``run_manifest``), the hours since a file of that kind was last ingested
(``max(_ingested_at)``), against a warn and an error threshold per kind. The thresholds live in
``<home>/config/freshness.yaml`` (validated like every config file; defaults below when the file
is absent) and reach dbt as ``--vars`` (``dbt/models/staging/_sources.yml`` reads them).

Outcomes per kind: ``pass``; ``warn`` (past the warn threshold, or never delivered: a new
deployment has no data yet, which is worth saying but not failing on); ``error`` (past the error
threshold, or dbt could not read the source). Any error raises :class:`FreshnessFailed`, whose
message names each stale source, when its last file was ingested and the threshold it broke.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmledger.paths import Home

log = logging.getLogger(__name__)

FRESHNESS_FILE = "freshness.yaml"
# The raw sources whose freshness thresholds _sources.yml reads from the `llmledger_freshness` var.
FRESHNESS_KINDS = ("focus", "annotation_invoice", "slurm_job", "run_manifest")
# (warn, error) hours. Billing exports and job logs arrive daily, so a day and a half without
# one warns and three days fail; vendors invoice monthly: 35 and 45 days.
DEFAULT_HOURS: dict[str, tuple[int | None, int | None]] = {
    "focus": (36, 72),
    "annotation_invoice": (840, 1080),
    "slurm_job": (36, 72),
    "run_manifest": (36, 72),
}
# dbt needs a number for each threshold; a threshold switched off is one no feed can reach.
OFF_HOURS = 1_000_000
THRESHOLD_KEYS = ("warn_after_hours", "error_after_hours")
PASS, WARN, ERROR, NEVER_LOADED = "pass", "warn", "error", "never loaded"


@dataclass(frozen=True)
class Threshold:
    """The freshness thresholds of one kind; ``None`` switches a threshold off."""

    kind: str
    warn_after_hours: int | None
    error_after_hours: int | None

    @property
    def enabled(self) -> bool:
        return self.warn_after_hours is not None or self.error_after_hours is not None

    def dbt_vars(self) -> dict[str, int]:
        return {
            "warn_after_hours": self.warn_after_hours or OFF_HOURS,
            "error_after_hours": self.error_after_hours or OFF_HOURS,
        }


def default_yaml() -> str:
    """The text of a default ``config/freshness.yaml`` (commented)."""
    lines = [
        "# Source freshness: hours since a file of each kind was last ingested before the",
        "# nightly run warns (the run goes on) or errors (the run fails, naming the source).",
        "# A threshold set to null is off; a kind set to off is not checked at all.",
    ]
    for kind in FRESHNESS_KINDS:
        warn, error = DEFAULT_HOURS[kind]
        lines.append(f"{kind}: {{warn_after_hours: {warn}, error_after_hours: {error}}}")
    return "\n".join(lines) + "\n"


def load_thresholds(home: Home) -> dict[str, Threshold]:
    """The thresholds of every kind in :data:`FRESHNESS_KINDS`, from ``config/freshness.yaml``
    (kinds it does not mention keep their defaults; no file: all defaults).

    Raises ``llmledger.config.ConfigError`` naming the file, the key, the value and what was
    expected, for every problem at once.
    """
    import yaml

    from llmledger.config import ConfigError, ConfigIssue

    thresholds = {kind: Threshold(kind, *DEFAULT_HOURS[kind]) for kind in FRESHNESS_KINDS}
    path = home.config / FRESHNESS_FILE
    if not path.exists():
        return thresholds
    issues: list[ConfigIssue] = []

    def issue(key: str | None, value: Any, expected: str) -> None:
        shown = None if value is None else str(value)
        issues.append(ConfigIssue(FRESHNESS_FILE, None, key, shown, expected))

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        not_yaml = ConfigIssue(FRESHNESS_FILE, None, None, None, f"valid YAML ({err})")
        raise ConfigError([not_yaml]) from err
    if data is None:
        return thresholds
    if not isinstance(data, Mapping):
        raise ConfigError(
            [ConfigIssue(FRESHNESS_FILE, None, None, str(data), "a mapping of kind -> thresholds")]
        )
    for kind, spec in data.items():
        if kind not in FRESHNESS_KINDS:
            issue(str(kind), None, f"a source kind, one of {', '.join(FRESHNESS_KINDS)}")
            continue
        if spec == "off" or spec is False:
            thresholds[kind] = Threshold(kind, None, None)
            continue
        if not isinstance(spec, Mapping):
            issue(kind, spec, "off, or a mapping with warn_after_hours and/or error_after_hours")
            continue
        hours: dict[str, int | None] = dict(zip(THRESHOLD_KEYS, DEFAULT_HOURS[kind], strict=True))
        for key, value in spec.items():
            if key not in THRESHOLD_KEYS:
                issue(f"{kind}.{key}", None, f"one of {', '.join(THRESHOLD_KEYS)}")
            elif value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                issue(f"{kind}.{key}", value, "a whole number of hours > 0, or null (off)")
            else:
                hours[key] = value
        warn, error = hours["warn_after_hours"], hours["error_after_hours"]
        if warn is not None and error is not None and warn >= error:
            issue(f"{kind}.warn_after_hours", warn, f"fewer hours than error_after_hours ({error})")
        thresholds[kind] = Threshold(kind, warn, error)
    if issues:
        raise ConfigError(issues)
    return thresholds


@dataclass(frozen=True)
class SourceFreshness:
    """The freshness of one raw source at the time of the check."""

    kind: str
    status: str
    last_ingested_at: dt.datetime | None
    age_hours: float | None
    threshold: Threshold
    error: str | None = None

    def __str__(self) -> str:
        label = f"source raw.{self.kind}: {self.status.upper()}"
        if self.error:
            return f"{label}: dbt could not check it: {self.error}"
        if self.last_ingested_at is None:
            return f"{label}: no {self.kind} file has ever been ingested"
        limits = ", ".join(
            f"{key.split('_')[0]} after {value} h"
            for key, value in zip(
                THRESHOLD_KEYS,
                (self.threshold.warn_after_hours, self.threshold.error_after_hours),
                strict=True,
            )
            if value is not None
        )
        return (
            f"{label}: last {self.kind} file ingested {self.last_ingested_at:%Y-%m-%d %H:%M} UTC, "
            f"{self.age_hours:.1f} h ago ({limits})"
        )


@dataclass(frozen=True)
class FreshnessResult:
    """Every checked source's freshness."""

    sources: tuple[SourceFreshness, ...]

    @property
    def errors(self) -> list[SourceFreshness]:
        return [s for s in self.sources if s.status == ERROR]

    @property
    def warnings(self) -> list[SourceFreshness]:
        return [s for s in self.sources if s.status in (WARN, NEVER_LOADED)]

    def report(self) -> str:
        return "\n".join(str(s) for s in self.sources) or "source freshness: no source checked"


class FreshnessFailed(Exception):
    """A source is past its error threshold; the message names every such source."""

    def __init__(self, result: FreshnessResult) -> None:
        self.result = result
        self.failing_sources = [f"raw.{s.kind}" for s in result.errors]
        lines = [f"source freshness failed ({len(result.errors)} stale source(s)):"]
        lines.extend(f"  {s}" for s in result.errors)
        super().__init__("\n".join(lines))


def parse_results(
    sources_json: Mapping[str, Any], thresholds: Mapping[str, Threshold]
) -> FreshnessResult:
    """Classify dbt's ``sources.json`` results (see the module docstring for the outcomes)."""
    out = []
    for result in sources_json.get("results", []):
        kind = result["unique_id"].rsplit(".", 1)[-1]
        if kind not in thresholds:
            continue
        status = result.get("status")
        last = age = None
        max_loaded = result.get("max_loaded_at")
        if max_loaded:
            parsed = dt.datetime.fromisoformat(max_loaded)
            # dbt reports an empty source (max() is null) as the year 1.
            if parsed.year > 1:
                last = parsed.astimezone(dt.UTC).replace(tzinfo=None)
                age = float(result.get("max_loaded_at_time_ago_in_s", 0)) / 3600
        if status in (PASS, WARN, ERROR) and last is None:
            status = NEVER_LOADED
        error = None
        if status not in (PASS, WARN, ERROR, NEVER_LOADED):
            status, error = ERROR, str(result.get("message") or result.get("error") or status)
        out.append(SourceFreshness(kind, status, last, age, thresholds[kind], error))
    return FreshnessResult(tuple(sorted(out, key=lambda s: FRESHNESS_KINDS.index(s.kind))))


def check_freshness(home: Home) -> FreshnessResult:
    """Run ``dbt source freshness`` on the enabled kinds of ``home``; log every outcome.

    Raises :class:`FreshnessFailed` if a source is past its error threshold,
    ``llmledger.config.ConfigError`` for an invalid ``config/freshness.yaml`` and
    ``llmledger.warehouse.BuildFailed`` if dbt produced no result at all.
    """
    from llmledger.warehouse import BuildFailed, run_dbt

    thresholds = {k: t for k, t in load_thresholds(home).items() if t.enabled}
    if not thresholds:
        return FreshnessResult(())
    # Its own target folder: the changing --vars would otherwise invalidate the partial parse
    # of `dbt build`.
    target = home.root / "dbt_freshness"
    results_file = target / "sources.json"
    results_file.unlink(missing_ok=True)
    dbt_vars = {"llmledger_freshness": {k: t.dbt_vars() for k, t in thresholds.items()}}
    proc = run_dbt(
        home,
        ["source", "freshness"],
        "--vars",
        json.dumps(dbt_vars),
        "--select",
        *(f"source:raw.{kind}" for kind in thresholds),
        target=target,
    )
    if not results_file.exists():
        raise BuildFailed(
            f"dbt source freshness produced no result (exit {proc.returncode}):\n"
            f"{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
        )
    result = parse_results(json.loads(results_file.read_text()), thresholds)
    for source in result.sources:
        level = logging.INFO if source.status == PASS else logging.WARNING
        if source.status == ERROR:
            level = logging.ERROR
        log.log(level, "%s", source)
    if result.errors:
        raise FreshnessFailed(result)
    return result


def write_default(home: Home) -> Path:
    """Write ``config/freshness.yaml`` with the defaults unless it exists; return its path."""
    path = home.config / FRESHNESS_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(default_yaml(), encoding="utf-8")
    return path
