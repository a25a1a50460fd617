"""Ingest in worker processes (``ingest_paths(..., workers=N)``): the same raw layer,
quarantine and results as one process, in the same order, and content delivered twice in one
batch ingested once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from llmledger import engine
from llmledger.ingest import ingest_paths
from llmledger.paths import Home
from llmledger.raw_schema import write_schema_files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SOURCES = {
    "billing/owned/focus_2026-01.csv": FIXTURES / "golden/landing/billing/owned/focus_2026-01.csv",
    "billing/messy/focus_messy.csv": FIXTURES / "ingest/focus_messy.csv",
    "pipeline/sacct_jobs.txt": FIXTURES / "ingest/sacct_jobs.txt",
    "invoices/acme/A-1.csv": FIXTURES / "golden/landing/invoices/acme/A-1.csv",
    # The same bytes as the golden bill under another name: one of the two is ingested.
    "billing/owned/focus_2026-01_resent.csv": FIXTURES
    / "golden/landing/billing/owned/focus_2026-01.csv",
}


def _home(root: Path) -> Home:
    home = Home(root)
    for name, source in SOURCES.items():
        target = home.landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    write_schema_files(home)
    return home


def _tables(home: Home) -> dict[str, list[dict]]:
    """Every raw and quarantine Parquet file's rows, less the ingest time."""
    out = {}
    written = [*home.raw.rglob("*.parquet"), *(home.root / "quarantine").rglob("*.parquet")]
    for path in sorted(written):
        rows = pq.read_table(path).to_pylist()
        for row in rows:
            row.pop("_ingested_at", None)
            row.pop("ingested_at", None)
        out[str(path.relative_to(home.root))] = rows
    return out


def test_workers_give_what_one_process_gives(tmp_path: Path):
    one = _home(tmp_path / "one")
    many = _home(tmp_path / "many")
    progress: list[tuple[int, int]] = []

    serial = ingest_paths(one, [one.landing])
    parallel = ingest_paths(
        many,
        [many.landing],
        progress=lambda done, total, _result: progress.append((done, total)),
        workers=2,
        min_parallel_bytes=0,
    )

    def outcome(results):
        return [(r.source_file, r.status, r.rows_read, r.rows_loaded, r.rows_quarantined)
                for r in results]  # fmt: skip

    assert outcome(parallel) == outcome(serial)
    assert [r.source_file for r in parallel] == sorted(r.source_file for r in parallel)
    statuses = {r.source_file.rsplit("/", 1)[-1]: r.status for r in parallel}
    assert statuses["focus_2026-01.csv"] == "loaded"
    assert statuses["focus_2026-01_resent.csv"] == "already_ingested"
    assert sorted(progress) == [(n, len(SOURCES)) for n in range(1, len(SOURCES) + 1)]
    assert _tables(many) == _tables(one)
    assert _tables(many)  # something was written


def test_a_small_batch_stays_in_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from llmledger.ingest import pipeline

    home = _home(tmp_path / "home")
    monkeypatch.setattr(pipeline, "_ingest_parallel", lambda *a, **k: pytest.fail("no pool"))
    results = ingest_paths(home, [home.landing], workers=4)  # a few KiB < 32 MiB
    assert len(results) == len(SOURCES)


def test_each_worker_gets_its_share_of_the_duckdb_limits(tmp_path: Path):
    home = Home(tmp_path / "home")
    home.config.mkdir(parents=True)
    (home.config / "warehouse.yaml").write_text("memory_limit: 4GiB\nthreads: 4\n")
    try:
        engine.share(2)
        con = engine.connect(home)
        memory, threads = con.execute(
            "select current_setting('memory_limit'), current_setting('threads')"
        ).fetchall()[0]
        con.close()
    finally:
        engine.share(1)
    assert threads == 2
    assert memory in ("2.0 GiB", "2048.0 MiB")


def test_the_dag_lists_each_content_once(tmp_path: Path):
    """Its mapped ingest tasks run side by side: a re-sent copy in the same night is left out
    (its bytes are ingested as the first file), and the next night it is not new."""
    from llmledger import pipeline
    from llmledger.ingest import ingest_file

    home = _home(tmp_path / "home")
    listed = [Path(p).relative_to(home.landing).as_posix() for p in pipeline.list_new_files(home)]
    assert listed == sorted(set(SOURCES) - {"billing/owned/focus_2026-01_resent.csv"})
    for path in pipeline.list_new_files(home):
        ingest_file(home, path)
    assert pipeline.list_new_files(home) == []
