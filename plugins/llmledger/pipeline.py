"""The nightly refresh as plain functions: each one is the body of one task of the DAG.

``dags/llmledger_nightly.py`` only wires these together, so the refresh can be run and tested
without Airflow (:func:`run_in_process`, used by ``llmledger run --in-process`` and the tests).
Heavy modules (GX, DuckDB, pandas) are imported inside the functions: the DAG imports this
module at parse time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import os
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmledger.paths import Home

if TYPE_CHECKING:
    from llmledger.freshness import FreshnessResult
    from llmledger.ingest import IngestResult
    from llmledger.validation.marts import MartValidationResult
    from llmledger.warehouse import StartedDbt

log = logging.getLogger(__name__)


def prepare(home: Home) -> None:
    """Create the home's skeleton and stage the validated config that dbt reads.

    Raises ``llmledger.config.ConfigError`` (naming the file, the key and the value) when the
    config is invalid, before anything is ingested or built.
    """
    from llmledger import config
    from llmledger.freshness import load_thresholds

    home.ensure()
    config.stage(home)
    # Invalid freshness thresholds fail here too, before anything is ingested or built.
    load_thresholds(home)


def list_new_files(home: Home) -> list[str]:
    """Landing files not ingested yet, as strings (they travel through XCom), one per content.

    The DAG ingests them side by side; two files with the same bytes ingested at once would
    both miss the other's log row. The later one is left out (and logged): its bytes are
    ingested as the first, and the next run finds its sha256 in the log.
    """
    from llmledger import ingest

    first, repeats = ingest.first_of_each_content(home, ingest.pending_files(home))
    for path, same in repeats.items():
        log.info("%s: same bytes as %s, ingested once, as that file", path, same)
    return [str(path) for path in first]


def ingest_one(home: Home, path: str) -> dict[str, Any]:
    """Ingest one file; returns its ``IngestResult`` as a JSON-serialisable dict (for XCom),
    with its one-line ``summary`` for the log."""
    from llmledger import ingest

    # The DAG only ever ingests landing files; a path that leads elsewhere is refused.
    ingest.confine_to_landing(home, path)
    result = ingest.ingest_file(home, Path(path), kind="auto")
    return {**to_jsonable(result), "summary": result.summary()}


def build(
    home: Home,
    full_refresh: bool = False,
    while_building: Callable[[], None] | None = None,
    started: StartedDbt | None = None,
    echo: bool = True,
) -> str:
    """``dbt build`` the warehouse, incrementally where it can be (raises
    ``llmledger.warehouse.BuildFailed``); returns what it did (full refresh or the window).
    ``while_building`` is called as dbt starts, on ``started`` if dbt was started already
    (:func:`llmledger.warehouse.dbt_build`); ``echo`` prints dbt's output."""
    from llmledger import warehouse

    done = warehouse.dbt_build(
        home,
        echo=echo,
        full_refresh=full_refresh,
        while_building=while_building,
        started=started,
    )
    log.info("dbt build: %s", done)
    return done


def plan_build(home: Home, full: bool = False) -> dict[str, Any]:
    """What the DAG's dbt tasks must do (:mod:`llmledger.incremental`), as XCom-able values:
    ``full_refresh`` (\"true\"/\"false\"), the window's start ``refresh_from`` (for the
    ``LLMLEDGER_REFRESH_FROM`` of the dbt tasks), the DuckDB limits of
    ``config/warehouse.yaml`` (environment variables the profile reads) and the plan itself,
    for :func:`record_build` once every dbt task has succeeded."""
    from llmledger import config, engine, incremental, warehouse

    warehouse.check_warehouse_file(home)  # the dbt tasks would retry opening it for minutes
    config.stage(home)
    plan = incremental.plan(home, full=full)
    log.info("dbt build: %s", plan.describe())
    # Until record_build says the build succeeded there is no state: a dbt task that fails
    # (tables half-updated) makes the next build a full refresh.
    incremental.forget(home)
    return {
        "full_refresh": "true" if plan.full else "false",
        "refresh_from": plan.dbt_env()[incremental.REFRESH_ENV],
        "engine_env": engine.env(home),
        "describe": plan.describe(),
        "plan": to_jsonable(plan),
    }


def record_build(home: Home, planned: Mapping[str, Any]) -> str:
    """After the DAG's dbt tasks succeeded: remember what the build was built from (the next
    night's window starts after it). Returns the plan's description."""
    from llmledger import incremental

    values = dict(planned["plan"])
    if values.get("refresh_from"):
        values["refresh_from"] = dt.datetime.fromisoformat(values["refresh_from"])
    plan = incremental.RefreshPlan(**values)
    incremental.record(home, plan)
    return plan.describe()


def validate(home: Home) -> MartValidationResult:
    """Run the Great Expectations checks on the marts (raises ``ValidationFailed``)."""
    from llmledger.validation.marts import validate_marts

    return validate_marts(home)


def freshness(home: Home) -> FreshnessResult:
    """``dbt source freshness`` per raw kind with the thresholds of ``config/freshness.yaml``
    (raises ``llmledger.freshness.FreshnessFailed`` naming every stale source)."""
    from llmledger.freshness import check_freshness

    return check_freshness(home)


def headline(home: Home) -> str:
    """The data-versus-training table per model generation, as text."""
    from llmledger import summary

    return summary.headline(home)


@dataclasses.dataclass(frozen=True)
class Refreshed:
    """What :func:`refresh` did, and how long each step took (wall seconds)."""

    ingested: list[IngestResult]
    built: str  # the build: full refresh, or the window (:func:`build`)
    checks: MartValidationResult
    ingest_s: float  # the config staged and the new files ingested
    build_s: float  # from the end of ingest to dbt's exit (the plan and the record included)
    checks_s: float  # from dbt's exit to the end of the mart checks


def refresh(home: Home, full_refresh: bool = False, echo: bool = True) -> Refreshed:
    """:func:`prepare`, ingest the new landing files, build the warehouse (incrementally where
    it can be) and check the marts, in this process: the nightly refresh without the DAG's
    reports. Raises as :func:`prepare`, :func:`build` and :func:`validate` do; ``echo`` prints
    dbt's output.

    dbt starts first (:class:`llmledger.warehouse.StartedDbt`): it imports itself and reads
    its saved parse, about two seconds of one core, while the config is staged and the files
    are ingested, neither of which changes what dbt parses. On a night of a few files this
    hides most of dbt's start; on a full rebuild it is the same two seconds.
    """
    import time

    from llmledger import warehouse

    began = time.perf_counter()
    # dbt first: its parse reads the project, not the home (dbt makes its own target and log
    # folders). The home's skeleton (prepare) and ingest's modules (pyarrow, ...: 0.15 s with
    # the skeleton's schema files) come once it is on its way.
    started = warehouse.StartedDbt.start(home)
    with warehouse.unused_if_this_fails(started):
        from llmledger import ingest, validation

        prepare(home)
        paths = list_new_files(home)
        log.info("%d new file(s) to ingest", len(paths))
        # The DAG runs one ingest task per file, side by side; here, one process per core.
        ingested = ingest.ingest_paths(
            home,
            paths,
            progress=lambda done, total, r: log.info("[%d/%d] %s", done, total, r.summary()),
            workers=os.cpu_count() or 1,
        )
    ingested_at = time.perf_counter()
    # The mart checks come last: Great Expectations starts with dbt (seconds of one core).
    built = build(
        home,
        full_refresh=full_refresh,
        while_building=validation.warm_up,
        started=started,
        echo=echo,
    )
    built_at = time.perf_counter()
    checks = validate(home)
    log.info("mart checks:\n%s", checks.report())
    return Refreshed(
        ingested=ingested,
        built=built,
        checks=checks,
        ingest_s=ingested_at - began,
        build_s=built_at - ingested_at,
        checks_s=time.perf_counter() - built_at,
    )


def run_in_process(home: Home) -> str:
    """The whole nightly refresh in this process, in DAG order; returns the headline."""
    refresh(home)
    log.info("source freshness:\n%s", freshness(home).report())
    return headline(home)


# The package's errors that mean "the input is wrong": bad config, a build or check that
# failed on the data. Looked up in sys.modules rather than imported: an exception can only have
# been raised if its module was loaded, and importing llmledger.validation.marts just to
# classify an error would load Great Expectations.
_INPUT_ERRORS = (
    ("llmledger.config", "ConfigError"),
    ("llmledger.warehouse", "BuildFailed"),
    ("llmledger.warehouse", "WarehouseUnusable"),
    ("llmledger.validation.marts", "ValidationFailed"),
    ("llmledger.freshness", "FreshnessFailed"),
    ("llmledger.periods", "PeriodError"),
    ("llmledger.ingest.pipeline", "UnsafePath"),
)


def user_errors() -> tuple[type[BaseException], ...]:
    """The input errors (``ConfigError``, ``BuildFailed``, ``WarehouseUnusable``,
    ``ValidationFailed``, ``PeriodError``, ``UnsafePath``) loaded so far.

    A retry cannot fix them, and the CLI prints them as a message rather than a traceback.
    """
    found = []
    for module_name, name in _INPUT_ERRORS:
        error = getattr(sys.modules.get(module_name), name, None)
        if error is not None:
            found.append(error)
    return tuple(found)


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: dataclasses and mappings become dicts, paths and
    decimals become strings (a Decimal must not pass through float), times ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    if isinstance(value, Path | Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    return value
