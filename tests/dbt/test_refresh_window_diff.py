"""The incremental strategy `refresh_window_diff` (dbt/macros/incremental.sql) through dbt, on a
one-model project: a night keeps the window's unchanged rows where they are, replaces the
changed ones, drops the ones no longer produced, adds the new ones, and leaves the same table
as a delete of the window and an append would whatever the keys: with an enforced primary key a
key the model gives twice or as null fails; without one, such rows are written as they come.

The model reads a table the test writes (``src``), so every case is hand-made:

    key  charge day  amount  note    the night
    a    01-01       1.00    -       outside the window (it starts 01-05): untouched
    b    01-05       2.00    -       same again: kept in place
    c    01-05       3.00    x       amount 3.50: replaced
    d    01-06       4.00    -       note y (null to a value): replaced
    e    01-06       5.00    z       no longer produced: deleted
    f    01-07       6.00    -       new: added
"""

from __future__ import annotations

import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from llmledger import warehouse

WINDOW = "2026-01-05 00:00:00"

PROJECT = """
name: diffcheck
version: "1.0.0"
config-version: 2
profile: diffcheck
macro-paths: ["macros"]
model-paths: ["models"]
"""

PROFILES = """
diffcheck:
  target: local
  outputs:
    local:
      type: duckdb
      path: "{{ env_var('DIFFCHECK_WAREHOUSE') }}"
      threads: 1
      # No vacuum at checkpoint: a row's rowid then tells whether it was deleted and inserted
      # again (vacuum would renumber the rows of this small table).
      settings:
        max_vacuum_tasks: 0
"""

MODEL = """
{{ config(
    materialized='incremental',
    incremental_strategy='refresh_window_diff',
    unique_key='charge_key',
    refresh_window_column='charge_day',
    on_schema_change='fail'
) }}
select charge_key, charge_day, amount, note
from main.src
where {{ in_refresh_window('charge_day') }}
"""

# The same model without a primary key or contract (as the intermediate billing models).
LOOSE = MODEL
# A key of two columns: the strategy refuses it.
COMPOSITE = MODEL.replace("unique_key='charge_key'", "unique_key=['charge_key', 'charge_day']")

SCHEMA = """
models:
- name: charges
  config:
    contract:
      enforced: true
  constraints:
  - type: primary_key
    columns: [charge_key]
  columns:
  - {name: charge_key, data_type: varchar}
  - {name: charge_day, data_type: timestamp}
  - {name: amount, data_type: "decimal(18,2)"}
  - {name: note, data_type: varchar}
"""

FIRST = [
    ("a", "2026-01-01", "1.00", None),
    ("b", "2026-01-05", "2.00", None),
    ("c", "2026-01-05", "3.00", "x"),
    ("d", "2026-01-06", "4.00", None),
    ("e", "2026-01-06", "5.00", "z"),
]
NIGHT = [
    ("a", "2026-01-01", "1.00", None),
    ("b", "2026-01-05", "2.00", None),
    ("c", "2026-01-05", "3.50", "x"),
    ("d", "2026-01-06", "4.00", "y"),
    ("f", "2026-01-07", "6.00", None),
]


def _write_src(database: Path, rows: list[tuple]) -> None:
    with duckdb.connect(str(database)) as con:
        con.execute(
            "create or replace table src "
            "(charge_key varchar, charge_day timestamp, amount decimal(18,2), note varchar)"
        )
        con.executemany("insert into src values (?, ?, ?, ?)", rows)


def _dbt(
    project: Path, database: Path, refresh_from: str | None, model: str = "charges"
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **warehouse.TELEMETRY_OFF,
        "DIFFCHECK_WAREHOUSE": str(database),
        "DBT_TARGET_PATH": str(database.parent / "target"),
        "DBT_LOG_PATH": str(database.parent / "logs"),
    }
    env.pop("LLMLEDGER_REFRESH_FROM", None)
    if refresh_from is not None:
        env["LLMLEDGER_REFRESH_FROM"] = refresh_from
    cmd = [warehouse.dbt_executable(), "run", "--project-dir", str(project)]
    cmd += ["--profiles-dir", str(project), "--select", model]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)


def _rows(database: Path) -> dict[str, tuple]:
    """Each row by key: (charge day, amount, note, rowid). DuckDB gives a row a new rowid when
    it is deleted and inserted again."""
    with duckdb.connect(str(database), read_only=True) as con:
        sql = "select charge_key, strftime(charge_day, '%m-%d'), amount, note, rowid from charges"
        return {key: tuple(rest) for key, *rest in con.execute(sql).fetchall()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The project, and a warehouse after a full build of FIRST."""
    project = tmp_path_factory.mktemp("diffcheck")
    (project / "dbt_project.yml").write_text(PROJECT)
    (project / "profiles.yml").write_text(PROFILES)
    (project / "macros").mkdir()
    shutil.copy(warehouse.DBT_PROJECT_DIR / "macros" / "incremental.sql", project / "macros")
    (project / "models").mkdir()
    (project / "models" / "charges.sql").write_text(MODEL)
    (project / "models" / "charges.yml").write_text(SCHEMA)
    (project / "models" / "loose.sql").write_text(LOOSE)
    (project / "models" / "composite.sql").write_text(COMPOSITE)
    database = tmp_path_factory.mktemp("full") / "warehouse.duckdb"
    _write_src(database, FIRST)
    proc = _dbt(project, database, None)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {k: v[:3] for k, v in _rows(database).items()} == {
        "a": ("01-01", Decimal("1.00"), None),
        "b": ("01-05", Decimal("2.00"), None),
        "c": ("01-05", Decimal("3.00"), "x"),
        "d": ("01-06", Decimal("4.00"), None),
        "e": ("01-06", Decimal("5.00"), "z"),
    }
    return project, database


def _night(built: tuple[Path, Path], tmp_path: Path, rows: list[tuple]):
    """A copy of the built warehouse, with ``rows`` as the source, after a night from WINDOW."""
    project, full = built
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(full, database)
    _write_src(database, rows)
    return database, _dbt(project, database, WINDOW)


def test_a_night_writes_only_the_difference(built, tmp_path):
    before = _rows(built[1])
    database, proc = _night(built, tmp_path, NIGHT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    after = _rows(database)
    assert {k: v[:3] for k, v in after.items()} == {
        "a": ("01-01", Decimal("1.00"), None),
        "b": ("01-05", Decimal("2.00"), None),
        "c": ("01-05", Decimal("3.50"), "x"),
        "d": ("01-06", Decimal("4.00"), "y"),
        "f": ("01-07", Decimal("6.00"), None),
    }
    # a (outside the window) and b (reproduced) stayed where they were; c and d were
    # deleted and inserted again.
    assert after["a"][3] == before["a"][3]
    assert after["b"][3] == before["b"][3]
    assert after["c"][3] != before["c"][3]
    assert after["d"][3] != before["d"][3]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(("b", "2026-01-05", "2.00", None), id="a key given twice, rows equal"),
        pytest.param((None, "2026-01-06", "7.00", None), id="a null key"),
    ],
)
def test_a_night_with_a_bad_key_fails_and_changes_nothing(built, tmp_path, extra):
    database, proc = _night(built, tmp_path, [*NIGHT, extra])
    assert proc.returncode != 0
    assert "constraint" in proc.stdout.lower(), proc.stdout[-3000:]
    assert _rows(database) == _rows(built[1])


def test_without_a_primary_key_bad_keys_are_written_as_an_append_would(built, tmp_path):
    """No constraint to fail on: the night must leave exactly the rows a delete of the window
    and an append leave. The window held a null-keyed row (old), which a night no longer
    producing it must delete (a key comparison alone never matches null); the night gives b
    twice and a new null-keyed row, both written as they come."""
    project, _ = built
    database = tmp_path / "warehouse.duckdb"
    _write_src(database, [*FIRST, (None, "2026-01-06", "8.00", "old")])
    assert _dbt(project, database, None, "loose").returncode == 0  # a full build
    night = [*NIGHT, ("b", "2026-01-05", "2.00", None), (None, "2026-01-07", "7.00", "new")]
    _write_src(database, night)
    proc = _dbt(project, database, WINDOW, "loose")
    assert proc.returncode == 0, proc.stdout[-3000:]
    with duckdb.connect(str(database), read_only=True) as con:
        sql = "select charge_key, strftime(charge_day, '%m-%d'), amount, note from loose"
        rows = sorted(con.execute(sql).fetchall(), key=lambda r: (r[0] or "", r[1]))
    assert rows == [
        (None, "01-07", Decimal("7.00"), "new"),
        ("a", "01-01", Decimal("1.00"), None),
        ("b", "01-05", Decimal("2.00"), None),
        ("b", "01-05", Decimal("2.00"), None),
        ("c", "01-05", Decimal("3.50"), "x"),
        ("d", "01-06", Decimal("4.00"), "y"),
        ("f", "01-07", Decimal("6.00"), None),
    ]


def test_a_key_of_several_columns_is_refused(built, tmp_path):
    project, _ = built
    database = tmp_path / "warehouse.duckdb"
    _write_src(database, FIRST)
    assert _dbt(project, database, None, "composite").returncode == 0  # a full build
    proc = _dbt(project, database, WINDOW, "composite")
    assert proc.returncode != 0
    assert "unique_key must be one column" in proc.stdout, proc.stdout[-3000:]
