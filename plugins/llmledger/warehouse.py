"""The DuckDB warehouse: building it with dbt, and opening it read-only.

Only dbt writes ``warehouse.duckdb``. Everyone else opens it read-only through
:func:`connect_readonly`, which retries briefly because DuckDB refuses a read-only open while a
writer holds the file.

The DAG file imports this module at parse time (for the dbt project facts), so nothing heavy
is imported at module level: DuckDB is imported inside :func:`connect_readonly`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import site
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmledger.paths import Home

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = Path(os.environ.get("LLMLEDGER_DBT_PROJECT_DIR", REPO_ROOT / "dbt"))
DBT_PROFILES_DIR = DBT_PROJECT_DIR
DBT_PROFILES_YML = DBT_PROFILES_DIR / "profiles.yml"

# dbt/profiles.yml's keep_open: "true" for a dbt run as one command (dbt_command), which
# holds the warehouse from start to end, unless this process's environment says "false" (a
# site whose readers must get in between models); the DAG's dbt tasks leave it unset (false).
KEEP_OPEN_ENV = "LLMLEDGER_DBT_KEEP_OPEN"
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "DBT_VERSION_CHECK": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "SCARF_ANALYTICS": "false",
    "GX_ANALYTICS_ENABLED": "False",
}


class BuildFailed(RuntimeError):
    """dbt build failed; the message carries dbt's own summary of what failed."""


class WarehouseUnusable(RuntimeError):
    """``warehouse.duckdb`` exists but is not a DuckDB database (:func:`check_warehouse_file`)."""


# Every DuckDB database file has these bytes at offset 8 (after a checksum of its header).
DUCKDB_MAGIC = b"DUCK"


def check_warehouse_file(home: Home) -> None:
    """Raise :class:`WarehouseUnusable` when the home's ``warehouse.duckdb`` exists but is not
    a DuckDB database: empty (a process killed as it created the file, a ``touch``) or other
    bytes. DuckDB refuses to open it with an I/O error, the error dbt-duckdb retries while
    another process holds the file's lock: ``connect_attempts`` (profiles.yml) makes that 17
    minutes of waiting before the same error. No file is fine (the next build makes one)."""
    path = home.warehouse
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except FileNotFoundError:
        return
    if len(head) == 12 and head[8:] == DUCKDB_MAGIC:
        return
    what = (
        "is empty (0 bytes)"
        if not head
        else f"is not a DuckDB database (bytes 8 to 11 are {head[8:12]!r}, not {DUCKDB_MAGIC!r})"
    )
    raise WarehouseUnusable(
        f"the warehouse {path} {what}, so no build or reader can open it. The ledger is built "
        "from the raw layer: move the file aside (or delete it) and run `llmledger run` (or "
        "`llmledger build`); that build is a full refresh."
    )


def dbt_env(home: Home) -> dict[str, str]:
    """Environment variables every dbt invocation needs (CLI, Cosmos, tests alike)."""
    return {
        "LLMLEDGER_HOME": str(home.root),
        "DBT_PROFILES_DIR": str(DBT_PROFILES_DIR),
        # Target and logs outside the source tree: several homes may build at once.
        "DBT_TARGET_PATH": str(home.root / "dbt_target"),
        "DBT_LOG_PATH": str(home.root / "dbt_logs"),
        **TELEMETRY_OFF,
    }


def dbt_command(
    home: Home,
    command: Sequence[str],
    *options: str,
    target: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """``dbt <command> <options>`` against ``home``: its command line and its environment.

    The environment is this process's, plus :func:`dbt_env` and the DuckDB limits of
    ``config/warehouse.yaml`` (:func:`llmledger.engine.env`: memory, threads and temp folder
    hold for every dbt run, builds, freshness checks, parses and docs alike), plus
    :data:`KEEP_OPEN_ENV` (one command holds the warehouse open for its whole run unless the
    environment says otherwise), plus
    ``extra_env``. ``target`` is a target folder of its own instead of the home's
    ``dbt_target`` (a run whose parse differs would otherwise spoil the build's partial parse).
    """
    from llmledger import engine

    cmd = [dbt_executable(), *command, "--project-dir", str(DBT_PROJECT_DIR), *options]
    env = {
        **os.environ,
        **dbt_env(home),
        **engine.env(home),
        KEEP_OPEN_ENV: os.environ.get(KEEP_OPEN_ENV, "true"),
        **(extra_env or {}),
    }
    if target is not None:
        env["DBT_TARGET_PATH"] = str(target)
    return cmd, env


def run_dbt(
    home: Home,
    command: Sequence[str],
    *options: str,
    target: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run :func:`dbt_command` to its end; its output is captured, its exit code not checked."""
    cmd, env = dbt_command(home, command, *options, target=target, extra_env=extra_env)
    log.info("running %s", " ".join(cmd))
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)


def dbt_executable() -> str:
    """The dbt installed with this Python: beside it (a venv), else in its user site
    (``PYTHONUSERBASE``, how docker-compose installs it), else the one on PATH."""
    for candidate in (
        Path(sys.executable).parent / "dbt",
        Path(site.getuserbase()) / "bin" / "dbt",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("dbt")
    if not found:
        raise BuildFailed(
            "dbt is not installed: run `make install` (installs from requirements.lock)"
        )
    return found


def dbt_build(
    home: Home,
    args: Sequence[str] = (),
    echo: bool = True,
    full_refresh: bool = False,
    while_building: Callable[[], None] | None = None,
    started: StartedDbt | None = None,
) -> str:
    """Stage the config, then ``dbt build`` the whole project against ``home``.

    Without ``args`` the build is incremental where it can be (:mod:`llmledger.incremental`
    picks the window, or a full refresh; ``full_refresh`` forces one) and returns what it did.
    With ``args`` (a selection, say) dbt runs exactly as asked and the next plain build is a
    full refresh. Raises :class:`BuildFailed` with dbt's failure summary if any model or test
    fails. ``while_building`` is called as dbt starts: work for the other core (the config
    and the plan are made by then, so it does not slow them).

    dbt is started first (:class:`StartedDbt`): it imports dbt and reads its saved parse, about
    two seconds of one core, while this process stages the config and plans the build. A
    caller with other work to do first (ingest, :func:`llmledger.pipeline.refresh`) starts it
    earlier and passes it as ``started``.
    """
    from llmledger import config, incremental

    if started is None:
        started = StartedDbt.start(home)  # first: its parse reads the project, not the home
    with unused_if_this_fails(started):
        check_warehouse_file(home)
        home.ensure()
        config.stage(home)
        plan = None
        if args:
            incremental.forget(home)
            extra = list(args)
            window = {incremental.REFRESH_ENV: incremental.EVERYTHING}
        else:
            plan = incremental.plan(home, full=full_refresh)
            log.info("dbt build: %s", plan.describe())
            extra = plan.dbt_args()
            window = plan.dbt_env()
    # DuckDB limits of config/warehouse.yaml come with dbt_command, not dbt_env: the DAG calls
    # that at parse time, where no file may be read (its dbt tasks use the profile's defaults).
    cmd, env = dbt_command(home, ["build"], *extra, extra_env=window)
    log.info("running %s", " ".join(cmd))
    if started is None:  # dbt's Python cannot be told: run the command
        started = StartedDbt.command(cmd, env)
    returncode, stdout, stderr = started.run(cmd[1:], window, while_building)
    if echo:
        sys.stdout.write(stdout)
    if returncode != 0:
        failures = [
            line
            for line in stdout.splitlines()
            if any(word in line for word in ("ERROR", "FAIL", "Error", "error:"))
        ]
        detail = "\n".join(failures[-40:]) or stdout[-4000:] + stderr[-4000:]
        incremental.forget(home)
        raise BuildFailed(f"dbt build failed (exit {returncode}):\n{detail}")
    if plan is None:
        return "dbt build " + " ".join(extra)
    incremental.record(home, plan)
    return plan.describe()


# Run by dbt's Python to start dbt before its command is known (see StartedDbt).
DBT_STARTED_SCRIPT = Path(__file__).with_name("dbt_started.py")


def dbt_python(executable: str) -> str | None:
    """The Python a ``dbt`` console script runs on (its ``#!`` line), or None when it is not a
    plain Python launcher (a shell wrapper, a stand-in): then dbt is run as a command."""
    try:
        with open(executable, "rb") as script:
            first = script.readline(4096)
    except OSError:
        return None
    words = first[2:].decode("utf-8", "replace").split() if first.startswith(b"#!") else []
    if len(words) != 1 or not Path(words[0]).name.startswith("python"):
        return None
    return words[0] if Path(words[0]).is_file() else None


class StartedDbt:
    """dbt, started before its command is known.

    Every build starts with about two seconds of one core that need nothing of the build:
    Python importing dbt, and dbt reading its saved parse. The config staging and the
    refresh plan that decide the command take about half a second of the other core. So
    :func:`dbt_build` starts dbt first, as ``dbt_started.py`` run by dbt's own Python, and
    hands it the command line and the plan's environment once they are known; dbt then runs
    the command exactly as the ``dbt`` command would, output and exit code included.
    """

    def __init__(self, proc: subprocess.Popen[str], waiting: bool = True) -> None:
        self.proc = proc
        self.waiting = waiting  # for its command on stdin (dbt_started.py)

    @classmethod
    def start(cls, home: Home) -> StartedDbt | None:
        """Start dbt for ``home``; None when dbt's Python cannot be told (see
        :func:`dbt_python`): the caller runs the ``dbt`` command instead."""
        python = dbt_python(dbt_executable())
        if python is None:
            return None
        _, env = dbt_command(home, ["build"])
        proc = subprocess.Popen(
            [python, str(DBT_STARTED_SCRIPT), str(DBT_PROJECT_DIR)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return cls(proc)

    @classmethod
    def command(cls, cmd: Sequence[str], env: dict[str, str]) -> StartedDbt:
        """The ``dbt`` command ``cmd`` started as it is (it needs no command handed over)."""
        proc = subprocess.Popen(
            list(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return cls(proc, waiting=False)

    def run(
        self,
        args: Sequence[str],
        extra_env: dict[str, str],
        while_building: Callable[[], None] | None = None,
    ) -> tuple[int, str, str]:
        """Run ``dbt <args>`` with ``extra_env`` added; its exit code, stdout and stderr.
        ``while_building`` is called once dbt has its command. A :meth:`command` has both
        already."""
        if self.waiting:
            request = json.dumps({"args": list(args), "env": extra_env})
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(request + "\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass  # dbt died starting: its output says why
        if while_building is not None:
            while_building()
        stdout, stderr = self.proc.communicate()
        return self.proc.returncode, stdout, stderr

    def abandon(self) -> None:
        """The build will not run (the config or the plan failed): let dbt exit unused."""
        self.proc.communicate()


@contextlib.contextmanager
def unused_if_this_fails(started: StartedDbt | None) -> Iterator[None]:
    """Around the work between starting dbt and handing it its command (the config, the
    plan, ingest): if it raises, dbt is told to exit unused (:meth:`StartedDbt.abandon`)
    and the error goes on."""
    try:
        yield
    except BaseException:
        if started is not None:
            started.abandon()
        raise


# How DuckDB words the error of a file another process holds (then its path and the holder).
LOCKED = "Could not set lock on file"


def connect_readonly(
    home: Home, attempts: int = 20, wait_s: float = 0.5
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse, retried while a writer holds the file."""
    import duckdb

    if not home.warehouse.exists():
        raise FileNotFoundError(
            f"no warehouse at {home.warehouse}: run `llmledger build` (or `llmledger run`) first"
        )
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return duckdb.connect(str(home.warehouse), read_only=True)
        except duckdb.IOException as exc:
            if LOCKED not in str(exc):  # not a writer holding it: retrying cannot help
                check_warehouse_file(home)  # an empty or foreign file: say so, and what to do
                raise
            last = exc
            time.sleep(wait_s)
    raise RuntimeError(f"warehouse {home.warehouse} stayed locked by a writer: {last}")
