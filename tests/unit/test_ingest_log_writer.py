"""The ingest log's files: a file written again is always seen as changed by the incremental
``stg_ingest__files``, which compares each file's modification time (to the second, as DuckDB
gives it) and size with those it read."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from llmledger.ingest.writer import log_path, read_log, write_log
from llmledger.paths import Home

ROW = {
    "source_file": "landing/billing/x.csv",
    "source_sha256": "a" * 64,
    "kind": "focus",
    "parser": "focus_csv",
    "status": "loaded",
    "rows_read": 10,
    "rows_loaded": 10,
    "rows_quarantined": 0,
    "rows_skipped": 0,
    "ingested_at": datetime(2026, 1, 1, tzinfo=UTC),
}


def _as_duckdb_sees_it(path: Path) -> tuple:
    sql = "select last_modified, size from read_blob(?)"
    return duckdb.connect().execute(sql, [str(path)]).fetchall()[0]


def test_a_log_file_written_again_in_the_same_second_at_the_same_size_looks_changed(
    tmp_path: Path,
):
    home = Home.resolve(tmp_path / "home").ensure()
    time.sleep(1.01 - time.time() % 1)  # just after a second starts: both writes fall in it
    write_log(home, ROW)
    path = log_path(home, ROW["source_sha256"])
    first = _as_duckdb_sees_it(path)
    write_log(home, {**ROW, "rows_loaded": 9, "rows_quarantined": 1})  # another outcome
    second = _as_duckdb_sees_it(path)
    assert first[1] == second[1]  # the same size: only the time can tell
    assert first[0] != second[0]
    assert read_log(home, ROW["source_sha256"])["rows_quarantined"] == 1


def test_a_first_log_file_keeps_the_time_it_was_written(tmp_path: Path):
    home = Home.resolve(tmp_path / "home").ensure()
    before = time.time()
    write_log(home, ROW)
    assert before - 1 <= os.path.getmtime(log_path(home, ROW["source_sha256"])) <= time.time()
