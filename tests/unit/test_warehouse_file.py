"""A warehouse.duckdb that is not a DuckDB database fails at once, naming the file and what to
do, instead of being retried as if another process held its lock (17 minutes, in dbt)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from fake_dbt import install as install_fake_dbt
from llmledger import docs, pipeline, warehouse
from llmledger.paths import Home
from llmledger.warehouse import WarehouseUnusable, check_warehouse_file

RECORD_RUN = """
import os, sys
open(os.environ["LLMLEDGER_HOME"] + "/dbt-ran", "w").write(" ".join(sys.argv[1:]))
"""


def _home(tmp_path: Path, content: bytes | None) -> Home:
    home = Home(tmp_path / "home")
    home.root.mkdir(parents=True)
    if content is not None:
        home.warehouse.write_bytes(content)
    return home


def test_a_duckdb_database_or_no_file_passes(tmp_path: Path):
    check_warehouse_file(_home(tmp_path, None))  # the next build makes one
    home = Home(tmp_path / "built")
    home.root.mkdir()
    duckdb.connect(str(home.warehouse)).execute("create table t as select 1 as x").close()
    check_warehouse_file(home)


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "is empty (0 bytes)"),
        (b"not a database at all\n", "is not a DuckDB database (bytes 8 to 11 are b'taba'"),
        (b"DUCK", "is not a DuckDB database (bytes 8 to 11 are b''"),
    ],
)
def test_anything_else_is_named_with_the_way_out(tmp_path: Path, content: bytes, said: str):
    home = _home(tmp_path, content)
    with pytest.raises(WarehouseUnusable) as caught:
        check_warehouse_file(home)
    message = str(caught.value)
    assert f"the warehouse {home.warehouse} {said}" in message
    assert "move the file aside (or delete it) and run `llmledger run`" in message
    assert home.warehouse.read_bytes() == content  # left as it was: nothing is deleted


def test_the_build_the_dag_plan_and_the_docs_refuse_it_before_dbt_runs(tmp_path, monkeypatch):
    home = _home(tmp_path, b"")
    install_fake_dbt(tmp_path, monkeypatch, RECORD_RUN)
    with pytest.raises(WarehouseUnusable):
        warehouse.dbt_build(home, echo=False)
    with pytest.raises(WarehouseUnusable):
        pipeline.plan_build(home)
    with pytest.raises(WarehouseUnusable):
        docs.generate_docs(home, tmp_path / "docs")
    assert not (home.root / "dbt-ran").exists()
    # The CLI and the DAG treat it as an input error: a message, no retry.
    assert WarehouseUnusable in pipeline.user_errors()


def test_readers_retry_only_a_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = _home(tmp_path, b"")
    slept: list[float] = []
    monkeypatch.setattr(warehouse.time, "sleep", slept.append)
    with pytest.raises(WarehouseUnusable):
        warehouse.connect_readonly(home)
    assert slept == []  # it used to wait 20 x 0.5 s, then blame a writer

    home.warehouse.unlink()
    duckdb.connect(str(home.warehouse)).close()
    outcomes: list[Exception | None] = [
        duckdb.IOException('Could not set lock on file "w": Conflicting lock is held'),
        duckdb.IOException('Could not set lock on file "w": Conflicting lock is held'),
        None,
    ]
    real_connect = duckdb.connect

    def connect(path: str, read_only: bool = False):
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return real_connect(path, read_only=read_only)

    monkeypatch.setattr(duckdb, "connect", connect)
    warehouse.connect_readonly(home, wait_s=0.25).close()
    assert slept == [0.25, 0.25]

    outcomes[:] = [duckdb.IOException("Could not read from file: Input/output error")]
    with pytest.raises(duckdb.IOException, match="Input/output error"):
        warehouse.connect_readonly(home, wait_s=0.25)
    assert slept == [0.25, 0.25]  # not retried


def test_duckdb_words_a_held_file_as_the_readers_expect(tmp_path: Path):
    """LOCKED is DuckDB's own wording: a file another process writes is waited for."""
    import subprocess
    import sys

    home = _home(tmp_path, None)
    duckdb.connect(str(home.warehouse)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(home.warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RuntimeError, match=r"stayed locked by a writer: .*Conflicting lock"):
            warehouse.connect_readonly(home, attempts=2, wait_s=0.01)
    finally:
        holder.communicate("")
