"""A refresh killed between writing raw Parquet and building the marts, then rerun; and bad
config, which must stop a run before it writes anything.

The home is the golden organisation (tests/fixtures/golden, totals hand-computed in
tests/e2e/test_golden.py). ``llmledger run --in-process`` is started as a process of its own
and killed (SIGKILL, no clean-up) once every landing file is in the raw layer and dbt has
started writing the warehouse. On top of that, the crashes a kill can leave behind are
planted: a raw Parquet file whose ingest-log row was never written (killed between the two),
a half-written temporary raw file and a half-copied landing file. The rerun must give the
golden marts exactly: nothing lost, nothing counted twice, no temporary file read.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from golden_org import GOLDEN_INVOICE, GOLDEN_TOTALS, TOTALS, golden_home, query
from llmledger.cli import main

GOLDEN_FILES = 3  # billing, invoice, sacct
KILLED = -signal.SIGKILL


def _log_rows(home) -> list:
    return [p for p in home.ingest_log.glob("*.parquet") if p.name != "_schema.parquet"]


def _run_and_kill(home) -> int:
    """Start the refresh, kill its whole process group mid-build; return its exit status."""
    code = "import sys; from llmledger.cli import main; raise SystemExit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--home", str(home.root), "run", "--in-process"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: dbt, its child, dies with it
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_log_rows(home)) == GOLDEN_FILES and home.warehouse.exists():
            break  # raw layer complete, dbt is writing the warehouse
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait(timeout=30)


@pytest.fixture(scope="module")
def rerun(tmp_path_factory: pytest.TempPathFactory):
    home = golden_home(tmp_path_factory.mktemp("crash") / "home")
    status = _run_and_kill(home)
    raw_after_kill = sorted(p.name for p in home.raw.rglob("*.parquet"))

    # Killed after the invoice's raw Parquet was written, before its ingest-log row.
    invoice_sha = hashlib.sha256(GOLDEN_INVOICE.read_bytes()).hexdigest()
    (home.ingest_log / f"{invoice_sha}.parquet").unlink()
    # Killed mid-write: temporary files under hidden names, never renamed.
    half_raw = home.raw_dir("focus") / f".{'0' * 64}.parquet.0123abcd.tmp"
    half_raw.write_bytes(b"PAR1 half a Parquet file")
    half_copy = home.landing / "billing" / "owned" / ".focus_2026-02.csv.0123abcd.tmp"
    half_copy.write_bytes(b"BillingAccountId,BillingPeriodStart,Bill")

    exit_code = main(["--home", str(home.root), "run", "--in-process"])
    return {
        "home": home,
        "killed_status": status,
        "raw_after_kill": raw_after_kill,
        "exit_code": exit_code,
        "leftovers": (half_raw, half_copy),
    }


def test_the_refresh_was_killed_after_ingest(rerun):
    assert rerun["killed_status"] == KILLED
    # Every landing file was in the raw layer when it died.
    raw = [n for n in rerun["raw_after_kill"] if n != "_schema.parquet"]
    assert len(raw) == 2 * GOLDEN_FILES  # one raw file and one log row per source file


def test_the_rerun_gives_the_golden_marts_exactly(rerun):
    home = rerun["home"]
    assert rerun["exit_code"] == 0
    assert query(home, TOTALS) == [GOLDEN_TOTALS]
    assert query(home, "select count(*) from rpt_reconciliation where not passed") == [(0,)]
    shares = query(
        home, "select model_generation, data_cost_usd, training_cost_usd from fct_data_share"
    )
    assert sorted(shares) == [("gen1", 15, 40), ("gen2", 28, 10)]
    # Job by job as in the golden test: 40.00, 40.00, 10.00, 10.00 (and 20.00 idle).
    assert sorted(
        query(home, "select job_id, sum(allocated_cost_usd) from fct_cost_allocation group by 1")
    ) == [("1", 40), ("2", 40), ("3_1", 10), ("4", 10)]
    assert query(home, "select sum(idle_cost_usd) from fct_idle_cost") == [(20,)]


def test_the_file_whose_log_row_was_lost_is_ingested_once(rerun):
    home = rerun["home"]
    # Ingested again under the same content-addressed name: one raw file, its 1 line once.
    invoices = [
        p
        for p in home.raw_dir("annotation_invoice").glob("*.parquet")
        if p.name != "_schema.parquet"
    ]
    assert [p.stem for p in invoices] == [hashlib.sha256(GOLDEN_INVOICE.read_bytes()).hexdigest()]
    assert query(home, "select count(*), sum(cost_usd) from fct_annotation_cost") == [(1, 31)]
    assert len(_log_rows(home)) == GOLDEN_FILES


def test_temporary_files_of_a_killed_write_are_never_read(rerun):
    home = rerun["home"]
    half_raw, half_copy = rerun["leftovers"]
    # Left in place for whoever investigates, but neither ingested nor read by dbt.
    assert half_raw.exists() and half_copy.exists()
    assert query(home, "select count(*) from fct_billing_charge") == [(3,)]
    assert query(
        home,
        "select count(*) from rpt_reconciliation where scope like '%.tmp%'",
    ) == [(0,)]
    from llmledger import ingest

    assert ingest.pending_files(home) == []


# --- bad config: the run stops before anything is written -----------------------------------


def _snapshot(home) -> dict[str, bytes]:
    return {
        str(p.relative_to(home.root)): p.read_bytes()
        for folder in (home.raw, home.quarantine_rows.parent)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    } | {"warehouse.duckdb": home.warehouse.read_bytes()}


@pytest.mark.parametrize(
    ("file", "line", "message"),
    [
        (
            "dataset_consumption.csv",
            "ds-c,ds-a,dataset,10,2026-01-06",
            "config/dataset_consumption.csv line 7, column consumer: value 'ds-a' — expected no "
            "cycle in dataset lineage, found ds-a -> ds-c -> ds-a",
        ),
        (
            "vendor_projects.csv",
            "acme,P7,ds-zzz,",
            "config/vendor_projects.csv line 3, column dataset_version: value 'ds-zzz' — "
            "expected a dataset_version from datasets.csv",
        ),
    ],
    ids=["lineage_cycle", "invoice_project_for_a_dataset_that_does_not_exist"],
)
def test_bad_config_stops_the_run_and_changes_nothing(rerun, capsys, file, line, message):
    home = rerun["home"]
    path = home.config / file
    good = path.read_bytes()
    before = _snapshot(home)
    try:
        path.write_bytes(good + line.encode() + b"\n")
        for command in (["build"], ["run", "--in-process"]):
            capsys.readouterr()
            assert main(["--home", str(home.root), *command]) == 1
            err = capsys.readouterr().err
            assert err.startswith("error: 1 problem(s) in the configuration:")
            assert message in err
            assert "Traceback" not in err
        assert _snapshot(home) == before
    finally:
        path.write_bytes(good)
    assert query(home, TOTALS) == [GOLDEN_TOTALS]
