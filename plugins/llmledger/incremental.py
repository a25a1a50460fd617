"""Which hours a build must recompute: the refresh window of the incremental dbt models.

The heavy models (billing rows, their spread to hours, cost pools, job hours, allocation and
the marts ``fct_billing_charge``, ``fct_cost_allocation``, ``fct_idle_cost``) are incremental
on charge period (``dbt/macros/incremental.sql``); ``int_billing_deliveries`` adds only the new
FOCUS files, and ``int_jobs_tagged`` re-tags only the jobs with a record in the window. A build
recomputes their rows from ``refresh_from`` on; :func:`plan` chooses it from what is new since
the last successful build (``cache/build_state.json``):

- nothing to go by (first build, no state, no warehouse), a changed config, closed or reopened
  period, or dbt project, a file the last build saw that is gone, or a home that moved (the
  views the night leaves as they are read the raw layer by its path): a full refresh;
- else the earliest hour any new row can change: the charge period start of new billing rows;
  for a new replacement snapshot, every row of the billing periods it replaces; for a new
  sacct or OpenCost record, every earlier record of the same job (a job logged when it ends
  may have started weeks ago); and the billing horizon of the last build (running jobs are
  counted up to it); then back to midnight and ``lookback_days`` more
  (``config/warehouse.yaml``, default 2) for safety against clock skew in exports.

Everything before ``refresh_from`` depends on no new input, so keeping it is exact:
``tests/e2e/test_incremental_refresh.py`` holds every mart of an incremental night equal to a
full refresh on the same files.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from llmledger import engine
from llmledger.paths import Home, parquet_files

log = logging.getLogger(__name__)

STATE_FILE = Path("cache") / "build_state.json"
DBT_INPUTS = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")
# The refresh window's start, read by dbt/macros/incremental.sql; EVERYTHING on a full build.
REFRESH_ENV = "LLMLEDGER_REFRESH_FROM"
EVERYTHING = "1900-01-01 00:00:00"
# Nodes an incremental build leaves as the last build made them (see RefreshPlan.dbt_args).
NIGHTLY_SKIPS = ("config.materialized:view", "resource_type:seed", "resource_type:unit_test")
# Raw sources (dbt/models/staging/_sources.yml, `raw`) that change with any new file: the
# ingest log. The quarantine (`quarantined_row`) is new when its files are not those of the
# last build (RefreshPlan.quarantine). Each raw kind (paths.RAW_KINDS) is a source of the same
# name, new when a file of that kind is.
ALWAYS_NEW_SOURCES = ("ingest_log",)
QUARANTINE_SOURCE = "quarantined_row"


@dataclass
class RefreshPlan:
    """What the next build does: ``full`` or recompute from ``refresh_from`` on."""

    full: bool
    reason: str
    refresh_from: datetime | None = None
    new_files: int = 0
    new_kinds: list[str] = field(default_factory=list)  # raw kinds of the new files
    files: list[str] = field(default_factory=list)  # every loaded sha256 (for the state)
    config_digest: str = ""
    project_digest: str = ""
    # The quarantine's row files as "name size mtime_ns" (:func:`quarantine_signature`), and
    # whether they differ from the last build's: most nights quarantine nothing, and then
    # nothing downstream of the quarantine alone (rpt_rejected_invoices) has to run.
    quarantine: list[str] = field(default_factory=list)
    quarantine_changed: bool = True

    def dbt_args(self) -> list[str]:
        """``dbt build`` arguments: ``--full-refresh``, or what an incremental build runs.

        An incremental build runs only when the dbt project and the config are those of the
        last successful build (:func:`plan`), and raw files never change (a file of that build
        that is gone means a full refresh). So the night runs only the models and tests
        downstream of a raw source that has new rows (:meth:`changed_sources`): the others
        would compute what they hold (a night without invoices leaves the annotation models
        and their tests as they are). Of those it skips the views, the seed and the unit tests,
        which the last build made from the same project and config (29 nodes, about 2 s of
        dbt's per-node cost); ``--indirect-selection empty`` keeps the data tests on those
        views: they run on the night's data.
        """
        if self.full:
            return ["--full-refresh"]
        return [
            "--select",
            *(f"source:raw.{name}+" for name in self.changed_sources()),
            "--exclude",
            *NIGHTLY_SKIPS,
            "--indirect-selection",
            "empty",
        ]

    def changed_sources(self) -> list[str]:
        """The raw sources with new rows since the last build."""
        quarantine = [QUARANTINE_SOURCE] if self.quarantine_changed else []
        return sorted({*self.new_kinds, *ALWAYS_NEW_SOURCES, *quarantine})

    def dbt_env(self) -> dict[str, str]:
        """The refresh window for dbt (``dbt/macros/incremental.sql``). An environment
        variable, not a ``--vars``: a changed var makes dbt re-parse the whole project."""
        start = self.refresh_from if not self.full else None
        return {REFRESH_ENV: f"{start:%Y-%m-%d %H:%M:%S}" if start else EVERYTHING}

    def describe(self) -> str:
        if self.full:
            return f"full refresh ({self.reason})"
        kinds = f": {', '.join(self.new_kinds)}" if self.new_kinds else ""
        return (
            f"incremental from {self.refresh_from:%Y-%m-%d %H:%M} ({self.new_files} new "
            f"file(s) since the last build{kinds})"
        )


def _digest(paths: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _files(*folders: Path) -> list[Path]:
    out: list[Path] = []
    for folder in folders:
        if folder.is_file():
            out.append(folder)
        elif folder.is_dir():
            out.extend(p for p in folder.rglob("*") if p.is_file())
    return out


def config_digest(home: Home) -> str:
    """Digest of what a build reads besides the raw layer: config, staged tables, periods."""
    return _digest(_files(home.config, home.root / "staged", home.root / "periods"), home.root)


def project_digest() -> str:
    from llmledger.warehouse import DBT_PROJECT_DIR

    return _digest(_files(*(DBT_PROJECT_DIR / name for name in DBT_INPUTS)), DBT_PROJECT_DIR)


def _state(home: Home) -> dict[str, Any] | None:
    try:
        state = json.loads((home.root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def forget(home: Home) -> None:
    """Drop the state: the next build is a full refresh (after a partial or failed build)."""
    (home.root / STATE_FILE).unlink(missing_ok=True)


def plan(home: Home, full: bool = False) -> RefreshPlan:
    """The refresh plan of the next build of ``home`` (config must be staged already)."""
    settings = engine.load(home)
    con = engine.connect(home)
    try:
        logs = parquet_files(home.ingest_log)
        loaded: dict[str, str] = {}
        if logs:
            rows = con.execute(
                f"select source_sha256, kind from read_parquet({engine.sql_list(logs)}) "
                "where status = 'loaded'"
            ).fetchall()
            loaded = dict(rows)
        result = RefreshPlan(
            full=True,
            reason="requested",
            files=sorted(loaded),
            config_digest=config_digest(home),
            project_digest=project_digest(),
            quarantine=quarantine_signature(home),
        )
        state = _state(home)
        if full:
            return result
        if state is None or not home.warehouse.exists():
            result.reason = "no earlier build to add to"
            return result
        if state.get("config_digest") != result.config_digest:
            result.reason = "config or closed periods changed"
            return result
        if state.get("project_digest") != result.project_digest:
            result.reason = "dbt project changed"
            return result
        if state.get("home") != str(home.root):
            # The staging views hold the raw layer's path (dbt/models/staging/_sources.yml), and
            # a night does not rebuild views (NIGHTLY_SKIPS): they would read the old home.
            last = state.get("home") or "an unrecorded path"
            result.reason = f"the home moved (last built at {last})"
            return result
        before = set(state.get("files", []))
        if before - set(loaded):
            result.reason = "a file of the last build is no longer in the raw layer"
            return result
        new = {sha: kind for sha, kind in loaded.items() if sha not in before}
        starts = [_parse(state.get("horizon"))]
        starts.extend(_earliest_touched(con, home, new))
        known = [s for s in starts if s is not None]
        if not known:
            result.reason = "no billing horizon recorded"
            return result
        window = min(known)
        result.full = False
        result.reason = ""
        # A state written before the quarantine was recorded has no "quarantine": changed.
        result.quarantine_changed = state.get("quarantine") != result.quarantine
        result.new_files = len(new)
        result.new_kinds = sorted(set(new.values()))
        result.refresh_from = datetime.combine(window.date(), datetime.min.time()) - timedelta(
            days=settings.lookback_days
        )
        return result
    finally:
        con.close()


def quarantine_signature(home: Home) -> list[str]:
    """The quarantine's row files (``quarantine/rows/*.parquet``, what the source
    ``quarantined_row`` reads), each as ``"name size mtime_ns"``, sorted: a file added,
    removed or rewritten changes it."""
    out = []
    for path in parquet_files(home.quarantine_rows):
        stat = path.stat()
        out.append(f"{path.name} {stat.st_size} {stat.st_mtime_ns}")
    return out


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _earliest_touched(con: Any, home: Home, new: dict[str, str]) -> list[datetime | None]:
    """Per raw kind, the earliest hour a row of the new files (or a row they supersede or
    re-record) sits in."""

    def paths(kind: str, shas: list[str] | None = None) -> list[Path]:
        folder = home.raw_dir(kind)
        if shas is None:
            return parquet_files(folder)
        return [folder / f"{sha}.parquet" for sha in shas if (folder / f"{sha}.parquet").exists()]

    def one(sql: str) -> datetime | None:
        return con.execute(sql).fetchall()[0][0]

    out: list[datetime | None] = []
    by_kind: dict[str, list[str]] = {}
    for sha, kind in new.items():
        by_kind.setdefault(kind, []).append(sha)
    if by_kind.get("focus"):
        fresh = engine.sql_list(paths("focus", by_kind["focus"]))
        everything = engine.sql_list(paths("focus"))
        out.append(one(f"select min(charge_period_start) from read_parquet({fresh})"))
        # A replacement snapshot supersedes every earlier row of its billing periods.
        out.append(
            one(f"""
                with scopes as (
                    select distinct provider, billing_account_id, billing_period_start
                    from read_parquet({fresh})
                    where lower(json_extract_string(x_columns, '$.x_DeliveryStyle'))
                        = 'replacement'
                )
                select min(old.charge_period_start)
                from read_parquet({everything}, union_by_name = true) as old
                join scopes
                    on old.provider is not distinct from scopes.provider
                    and old.billing_account_id is not distinct from scopes.billing_account_id
                    and old.billing_period_start is not distinct from scopes.billing_period_start
            """)
        )
    if by_kind.get("slurm_job"):
        fresh = engine.sql_list(paths("slurm_job", by_kind["slurm_job"]))
        everything = engine.sql_list(paths("slurm_job"))
        # Every record of a job a new file mentions: its attempts and key may change.
        out.append(
            one(f"""
                select min(least(old.start_time, old.submit_time))
                from read_parquet({everything}, union_by_name = true) as old
                semi join (select distinct cluster, job_id from read_parquet({fresh})) as jobs
                    on old.job_id = jobs.job_id and old.cluster is not distinct from jobs.cluster
            """)
        )
    if by_kind.get("opencost_allocation"):
        fresh = engine.sql_list(paths("opencost_allocation", by_kind["opencost_allocation"]))
        out.append(one(f"select min(start_time) from read_parquet({fresh})"))
    return out


def record(home: Home, done: RefreshPlan) -> None:
    """After a successful build: remember what it was built from."""
    from llmledger.ingest.writer import write_json
    from llmledger.warehouse import connect_readonly

    with connect_readonly(home) as con:
        horizon = con.execute(
            "select max(charge_period_end) from intermediate.int_billing_charges_converted"
        ).fetchall()[0][0]
    write_json(
        {
            "files": done.files,
            "quarantine": done.quarantine,
            "config_digest": done.config_digest,
            "project_digest": done.project_digest,
            "home": str(home.root),
            "horizon": horizon.isoformat() if horizon else None,
            "last_build": done.describe(),
        },
        home.root / STATE_FILE,
    )
