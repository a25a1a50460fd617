"""Closing quarters: snapshots, the close/reopen log, and what dbt reads about closed periods.

``llmledger close --quarter 2026Q3`` freezes a quarter. It refuses unless the warehouse is
current (built after the last ingested file and the last config change) and every
``rpt_reconciliation`` check passed. It then writes, under ``<home>/periods/2026Q3/``:

- ``marts/<mart>.parquet``: every mart row that belongs to the quarter (see
  :func:`_row_filter`), written deterministically (fixed column order, rows sorted by every
  column, one thread), so the same rows always give the same bytes;
- ``report/``: the quarterly allocation review as it stood at the close, stamped with the close
  time instead of "now" (``llmledger report --quarter 2026Q3`` hands back these files);
- ``manifest.json``: quarter, close time, user, and the sha256, size and row count of each file.

It appends a line to ``<home>/periods/periods_log.jsonl`` (append-only: action, quarter, user,
time, reason). ``reopen`` needs a reason, logs it the same way and moves the snapshot to
``periods/_reopened/<quarter>_<time>/`` (kept for audit), so the quarter rebuilds live.

dbt learns about closed quarters through two staged files (written on every build by
:func:`stage`, called from ``config.stage``): ``staged/periods/closed_periods.parquet`` and
``staged/periods/frozen_quarterly_allocation.parquet`` (the ``fct_quarterly_allocation`` rows of
every closed quarter's snapshot, checked against its manifest first). ``fct_quarterly_allocation``
keeps those rows as they were and posts whatever the live books say beyond them (cost that
arrived later, for whatever reason) to the first open quarter as a prior-period adjustment.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmledger.engine import sql_string
from llmledger.paths import Home

MANIFEST = "manifest.json"
LOG_NAME = "periods_log.jsonl"
FROZEN_ALLOCATION = "fct_quarterly_allocation"
# Columns of a mart that say which quarter a row belongs to, in order of preference: the
# posting period (the books a row lands in) wins over the charge quarter.
_QUARTER_COLUMNS = ("posting_period", "quarter", "period")
_TIME_COLUMNS = ("hour",)


class PeriodError(Exception):
    """A close or reopen that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class ClosedPeriod:
    quarter: str
    closed_at: datetime
    closed_by: str
    folder: Path


def periods_dir(home: Home) -> Path:
    return home.root / "periods"


def staged_dir(home: Home) -> Path:
    return home.root / "staged" / "periods"


def log_path(home: Home) -> Path:
    return periods_dir(home) / LOG_NAME


def _parse_quarter(label: str) -> str:
    from llmledger.report.quarters import Quarter, QuarterError

    try:
        return str(Quarter.parse(label))
    except QuarterError as exc:
        raise PeriodError(str(exc)) from exc


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _now() -> datetime:
    # Full precision: a file ingested in the same second as the close, before it, is not late.
    return datetime.now(UTC).replace(tzinfo=None)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return os.environ.get("USER") or f"uid {os.getuid()}"


# ---------------------------------------------------------------------------------------------
# reading the state


def closed_periods(home: Home) -> list[ClosedPeriod]:
    """Every closed quarter (a folder ``periods/<quarter>/`` with a manifest), oldest first."""
    root = periods_dir(home)
    found = []
    for manifest in sorted(root.glob(f"*/{MANIFEST}")) if root.exists() else []:
        if manifest.parent.name.startswith("_"):
            continue
        data = _read_manifest(manifest)
        found.append(
            ClosedPeriod(
                data["quarter"],
                datetime.fromisoformat(data["closed_at"]),
                data["closed_by"],
                manifest.parent,
            )
        )
    return sorted(found, key=lambda p: p.quarter)


def closed_period(home: Home, quarter: str) -> ClosedPeriod | None:
    label = _parse_quarter(quarter)
    return next((p for p in closed_periods(home) if p.quarter == label), None)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        missing = [k for k in ("quarter", "closed_at", "closed_by", "files") if k not in data]
        if missing:
            raise KeyError(", ".join(missing))
    except (OSError, ValueError, KeyError) as exc:
        raise PeriodError(
            f"{path}: not a readable close manifest ({exc}); expected JSON with quarter, "
            "closed_at, closed_by and files"
        ) from exc
    return data


def verify(home: Home, quarter: str) -> dict[str, Any]:
    """The manifest of a closed quarter after checking every file's sha256 against it.

    Raises :class:`PeriodError` naming the file whose bytes changed (or that is missing)."""
    period = closed_period(home, quarter)
    if period is None:
        raise PeriodError(f"quarter {quarter} is not closed (no {periods_dir(home)}/{quarter}/)")
    manifest = _read_manifest(period.folder / MANIFEST)
    for entry in manifest["files"]:
        path = period.folder / entry["path"]
        if not path.exists():
            raise PeriodError(f"snapshot of {quarter}: {path} is missing (listed in {MANIFEST})")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise PeriodError(
                f"snapshot of {quarter}: {path} has sha256 {actual}, but {MANIFEST} recorded "
                f"{entry['sha256']} at the close; a closed quarter's files must not change "
                "(reopen the quarter to rebuild it)"
            )
    return manifest


# ---------------------------------------------------------------------------------------------
# staging for dbt

FROZEN_COLUMNS = (
    ("quarter", "varchar"),
    ("activity", "varchar"),
    ("model_generation", "varchar"),
    ("cost_usd", "decimal(38, 10)"),
    ("posting_period", "varchar"),
    ("is_prior_period_adjustment", "boolean"),
)


def stage(home: Home) -> None:
    """Write what dbt needs to know about closed quarters to ``staged/periods/``.

    Always writes both files (zero rows when nothing is closed) so a fresh home builds.
    Each snapshot is verified against its manifest first: a changed file is an error."""
    import duckdb

    folder = staged_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    periods = closed_periods(home)
    con = duckdb.connect()
    try:
        con.execute("set threads = 1")
        con.execute(
            "create table closed_periods (quarter varchar, closed_at timestamp, closed_by varchar)"
        )
        for p in periods:
            verify(home, p.quarter)
            con.execute(
                "insert into closed_periods values (?, ?, ?)", [p.quarter, p.closed_at, p.closed_by]
            )
        columns = ", ".join(f"{name} {dtype}" for name, dtype in FROZEN_COLUMNS)
        con.execute(f"create table frozen ({columns})")
        names = ", ".join(name for name, _ in FROZEN_COLUMNS)
        for p in periods:
            path = p.folder / "marts" / f"{FROZEN_ALLOCATION}.parquet"
            if not path.exists():
                continue
            # A snapshot taken before a column existed gets its default: the posting period
            # of a row frozen in quarter Q is Q.
            have = {
                r[0]
                for r in con.execute(
                    "describe select * from read_parquet(?)", [str(path)]
                ).fetchall()
            }
            select = ", ".join(
                name
                if name in have
                else (
                    f"'{p.quarter}' as {name}"
                    if name == "posting_period"
                    else f"quarter <> '{p.quarter}' as {name}"
                )
                for name, _ in FROZEN_COLUMNS
            )
            con.execute(
                f"insert into frozen ({names}) select {select} from read_parquet(?)", [str(path)]
            )
        for table, name in (
            ("closed_periods", "closed_periods"),
            ("frozen", "frozen_quarterly_allocation"),
        ):
            target = folder / f"{name}.parquet"
            tmp = folder / f".{name}.parquet.tmp"
            con.execute(
                f"copy (select * from {table} order by all) to {sql_string(tmp)} (format parquet)"
            )
            tmp.replace(target)
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# close


def _newest_input(home: Home) -> tuple[float, Path | None]:
    """The modification time and path of the newest thing a build reads: an ingest-log entry
    (one per ingested file) or a config file."""
    newest: tuple[float, Path | None] = (0.0, None)
    for folder, pattern in ((home.ingest_log, "*.parquet"), (home.config, "**/*")):
        if not folder.exists():
            continue
        for path in folder.glob(pattern):
            if path.is_file() and path.name != "_schema.parquet":
                mtime = path.stat().st_mtime
                if mtime > newest[0]:
                    newest = (mtime, path)
    return newest


def check_current(home: Home) -> None:
    """Raise :class:`PeriodError` unless the warehouse was built after everything it reads."""
    if not home.warehouse.exists():
        raise PeriodError(
            f"no warehouse at {home.warehouse}: run `llmledger build` before closing a quarter"
        )
    built = home.warehouse.stat().st_mtime
    newest, path = _newest_input(home)
    if newest > built:
        raise PeriodError(
            f"the warehouse is not current: {path} changed at "
            f"{datetime.fromtimestamp(newest, UTC):%Y-%m-%d %H:%M:%S} UTC, after the last build "
            f"({datetime.fromtimestamp(built, UTC):%Y-%m-%d %H:%M:%S} UTC); run `llmledger "
            "build` first"
        )


def _row_filter(columns: dict[str, str], quarter: str) -> tuple[str, list[Any]] | None:
    """How to pick a mart's rows of ``quarter``: by its posting period, else its quarter or
    period label, else by its hour; ``None`` for marts with no period (kept whole, as they
    stood at the close: e.g. balances and data share to date, the reconciliation)."""
    from llmledger.report.quarters import Quarter

    for name in _QUARTER_COLUMNS:
        if name in columns and columns[name] == "VARCHAR":
            return f'"{name}" = ?', [quarter]
    for name in _TIME_COLUMNS:
        if name in columns and columns[name].startswith("TIMESTAMP"):
            q = Quarter.parse(quarter)
            return f'"{name}" >= ? and "{name}" < ?', [q.start, q.end]
    return None


def export_marts(home: Home, quarter: str, folder: Path) -> list[dict[str, Any]]:
    """Write every mart's rows of ``quarter`` to ``folder/<mart>.parquet``, deterministically.

    Marts are the tables of the warehouse's ``main`` schema. Returns one entry per file
    (``path`` relative to the snapshot folder, ``sha256``, ``bytes``, ``rows``, ``filter``)."""
    from llmledger.warehouse import connect_readonly

    folder.mkdir(parents=True, exist_ok=True)
    con = connect_readonly(home)
    entries = []
    try:
        con.execute("set threads = 1")
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' and table_type = 'BASE TABLE' order by table_name"
            ).fetchall()
        ]
        for table in tables:
            columns = dict(
                (name, str(dtype).upper())
                for name, dtype in con.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = 'main' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
            )
            chosen = _row_filter(columns, quarter)
            where, params = (f"where {chosen[0]}", chosen[1]) if chosen else ("", [])
            select_list = ", ".join(f'"{c}"' for c in columns)
            path = folder / f"{table}.parquet"
            query = f'select {select_list} from main."{table}" {where} order by all'
            rows = con.execute(f"select count(*) from ({query})", params).fetchall()[0][0]
            con.execute(
                f"copy ({query}) to {sql_string(path)} (format parquet, compression zstd)", params
            )
            entries.append(
                {
                    "path": f"{folder.name}/{path.name}",
                    "sha256": sha256_file(path),
                    "bytes": path.stat().st_size,
                    "rows": rows,
                    "filter": chosen[0].replace("?", "'%s'") % tuple(str(p) for p in params)
                    if chosen
                    else "all rows (as at the close)",
                }
            )
    finally:
        con.close()
    return entries


def _reconciliation_failures(home: Home) -> list[tuple[Any, ...]]:
    from llmledger.warehouse import connect_readonly

    con = connect_readonly(home)
    try:
        return con.execute(
            "select check_name, scope, difference from rpt_reconciliation "
            "where not passed or passed is null order by all"
        ).fetchall()
    finally:
        con.close()


def _append_log(home: Home, entry: dict[str, Any]) -> None:
    path = log_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def close(
    home: Home, quarter: str, user: str | None = None, now: datetime | None = None
) -> ClosedPeriod:
    """Freeze ``quarter``: snapshot its marts and its report, write the manifest, log it.

    Raises :class:`PeriodError` if the quarter is already closed, the warehouse is not current,
    or a reconciliation check does not pass."""
    label = _parse_quarter(quarter)
    existing = closed_period(home, label)
    if existing is not None:
        raise PeriodError(
            f"quarter {label} is already closed (at {existing.closed_at:%Y-%m-%d %H:%M:%S} UTC "
            f"by {existing.closed_by}; snapshot in {existing.folder}); nothing done. "
            f'To change it: llmledger reopen --quarter {label} --reason "..."'
        )
    check_current(home)
    failures = _reconciliation_failures(home)
    if failures:
        listed = "; ".join(f"{c} [{s}] difference {d}" for c, s, d in failures[:10])
        raise PeriodError(
            f"cannot close {label}: {len(failures)} reconciliation check(s) do not pass "
            f"(rpt_reconciliation): {listed}"
        )
    user = user or _user()
    closed_at = now or _now()
    root = periods_dir(home)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{label}.closing"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        files = export_marts(home, label, staging / "marts")
        files += _freeze_report(home, label, staging, closed_at)
        manifest = {
            "quarter": label,
            "closed_at": closed_at.isoformat(),
            "closed_by": user,
            "warehouse": str(home.warehouse),
            "warehouse_built_at": datetime.fromtimestamp(home.warehouse.stat().st_mtime, UTC)
            .replace(tzinfo=None)
            .isoformat(),
            "files": files,
        }
        (staging / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        staging.replace(root / label)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _append_log(
        home,
        {"action": "close", "quarter": label, "user": user, "at": closed_at.isoformat()},
    )
    stage(home)
    return ClosedPeriod(label, closed_at, user, root / label)


def _freeze_report(
    home: Home, quarter: str, folder: Path, closed_at: datetime
) -> list[dict[str, Any]]:
    from llmledger.report import build_report

    out = folder / "report"
    build_report(home, quarter, out, generated_at=closed_at)
    entries = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        entries.append(
            {
                "path": path.relative_to(folder).as_posix(),
                "sha256": sha256_file(path),
                "bytes": path.stat().st_size,
            }
        )
    return entries


def frozen_report(home: Home, quarter: str, out: Path | None = None) -> list[Path] | None:
    """For a closed quarter, copy its report as frozen at the close into ``out`` (default
    ``<home>/reports/<quarter>/``) and return the files; ``None`` if the quarter is open."""
    period = closed_period(home, quarter)
    if period is None:
        return None
    verify(home, period.quarter)
    source = period.folder / "report"
    target = Path(out) if out is not None else home.reports / period.quarter
    target.mkdir(parents=True, exist_ok=True)
    stale = target / "csv"
    for old in stale.glob("*.csv") if stale.exists() else []:
        old.unlink()
    copied = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        copied.append(dest)
    return copied


# ---------------------------------------------------------------------------------------------
# reopen


def reopen(
    home: Home, quarter: str, reason: str, user: str | None = None, now: datetime | None = None
) -> Path:
    """Remove the freeze of ``quarter`` (logged with who, when and why); its snapshot moves to
    ``periods/_reopened/`` for audit. Returns where the snapshot went."""
    label = _parse_quarter(quarter)
    if not reason or not reason.strip():
        raise PeriodError(f'reopening {label} needs a reason: --reason "why it is reopened"')
    period = closed_period(home, label)
    if period is None:
        raise PeriodError(f"quarter {label} is not closed; nothing to reopen")
    user = user or _user()
    at = now or _now()
    archive = periods_dir(home) / "_reopened" / f"{label}_{at:%Y%m%dT%H%M%S}"
    archive.parent.mkdir(parents=True, exist_ok=True)
    _append_log(
        home,
        {
            "action": "reopen",
            "quarter": label,
            "user": user,
            "at": at.isoformat(),
            "reason": reason.strip(),
            "snapshot_moved_to": str(archive.relative_to(home.root)),
        },
    )
    period.folder.replace(archive)
    stage(home)
    return archive


def read_log(home: Home) -> list[dict[str, Any]]:
    path = log_path(home)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
