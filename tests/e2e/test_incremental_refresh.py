"""An incremental night equals a full refresh on the same files: every mart, every row.

The tiny scaled lab (llmledger.demo.scale, 4 nodes, a week) is built in full, then a night
delivers one more day: each cloud's daily file (with late SLA credits, ChargeClass
Correction, for the day before), the owned cluster's first part of its month, the sacct log
of jobs that ended that day. The build is incremental (window = the day before the new day,
minus the lookback); then `dbt build --full-refresh` rebuilds everything from the same raw
layer, and every table of the marts schema must hold exactly the same rows (DECIMAL compared
exactly, so "to the cent" holds a fortiori). A second night delivers a replacement snapshot
of a whole billing period (it supersedes a week of rows): the window must reach back to
that period's first charge.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

from llmledger import incremental, ingest, warehouse
from llmledger.demo import scale
from llmledger.paths import Home


def _ingest_log_files_read(home: Home) -> set[str]:
    """The ingest-log files the last build's stg_ingest__files read (its compiled SQL)."""
    sql = home.root / "dbt_target" / "compiled" / "llmledger" / "models" / "staging"
    text = (sql / "stg_ingest__files.sql").read_text()
    return set(re.findall(r"'([^']*/_ingest_log/[0-9a-f]{64}\.parquet)'", text))


def _ingest_log(home: Home) -> list[tuple[str, str]]:
    with warehouse.connect_readonly(home) as con:
        sql = "select source_sha256, status from staging.stg_ingest__files order by all"
        return con.execute(sql).fetchall()


def _charge_rowids(home: Home, since: str) -> dict[str, int]:
    """Where each row of fct_billing_charge from ``since`` on is stored: DuckDB gives a row a
    new rowid when it is deleted and inserted again."""
    with warehouse.connect_readonly(home) as con:
        sql = "select charge_key, rowid from fct_billing_charge where charge_period_start >= ?"
        return dict(con.execute(sql, [since]).fetchall())


def _marts(home: Home) -> dict[str, list[tuple]]:
    with warehouse.connect_readonly(home) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' and table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        ]
        return {
            name: con.execute(f"select * from {name} order by all").fetchall() for name in tables
        }


def _monthly(home: Home) -> dict[str, list[tuple]]:
    """The models of monthly and windowed rows the marts are built from, every row."""
    with warehouse.connect_readonly(home) as con:
        return {
            name: con.execute(f"select * from intermediate.{name} order by all").fetchall()
            for name in ("int_shared_costs_distributed", "int_spend_ledger")
        }


def _shared_months(home: Home) -> list[str]:
    with warehouse.connect_readonly(home) as con:
        sql = (
            "select distinct strftime(month, '%Y-%m') "
            "from intermediate.int_shared_costs_distributed order by 1"
        )
        return [month for (month,) in con.execute(sql).fetchall()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home.resolve(tmp_path_factory.mktemp("incremental")).ensure()
    scale.generate(home, "tiny")
    ingest.ingest_paths(home, [home.landing])
    assert warehouse.dbt_build(home, echo=False).startswith("full refresh")
    return home


def test_a_night_after_a_full_build_equals_a_full_refresh(built: Home):
    home = built
    before = _marts(home)
    window_before = _charge_rowids(home, "2026-01-05")
    added = scale.generate_day(home, "tiny")
    # Nothing new yet: the window starts at the billing horizon (01-08) less the lookback.
    assert incremental.plan(home).refresh_from == datetime(2026, 1, 6)
    results = ingest.ingest_paths(home, added)
    assert {r.status for r in results} == {"loaded"}
    plan = incremental.plan(home)
    # The new day is 2026-01-08; its late credits are for 01-07; lookback 2 days.
    assert not plan.full
    assert plan.new_files == 4
    assert plan.refresh_from == datetime(2026, 1, 5)
    # The day's files quarantined no row: the quarantine is the last build's.
    assert sum(r.rows_quarantined for r in results) == 0
    assert plan.changed_sources() == ["focus", "ingest_log", "slurm_job"]
    # The build writes dbt's manifest as it ends (the early parse of the started dbt does not).
    (home.root / "dbt_target" / "manifest.json").unlink()
    assert warehouse.dbt_build(home, echo=False).startswith("incremental from 2026-01-05 00:00")
    _assert_the_night_skipped_only_what_cannot_change(home, "2026-01-05 00:00:00")
    # The ingest log: the night read the log files of its 4 new files, not those of the week.
    assert _ingest_log_files_read(home) == {
        str(home.ingest_log / f"{r.sha256}.parquet") for r in results
    }

    nightly = _marts(home)
    assert nightly != before  # the night changed the marts
    # fct_billing_charge wrote the window as a difference: the window's rows the night
    # reproduced kept their place (a delete and re-insert would have moved every one), and the
    # night's rows were added.
    window_after = _charge_rowids(home, "2026-01-05")
    kept = window_before.keys() & window_after.keys()
    assert kept and all(window_after[key] == window_before[key] for key in kept)
    assert len(window_after) > len(window_before)
    assert len(nightly["fct_cost_allocation"]) > len(before["fct_cost_allocation"])
    # Rows wholly before the window are the ones kept; the credits changed 01-07's pools.
    early = [r for r in before["fct_idle_cost"] if r[1] < datetime(2026, 1, 5)]
    assert early and all(r in nightly["fct_idle_cost"] for r in early)

    assert warehouse.dbt_build(home, echo=False, full_refresh=True).startswith("full refresh")
    full = _marts(home)
    assert full.keys() == nightly.keys()
    for name in full:
        assert nightly[name] == full[name], f"{name} differs after the incremental night"


# One storage charge for 01-30 00:00 to 02-03 00:00: split over January and February by seconds
# (two days each), so a night from 02-01 recomputes its February piece only.
SPANNING_SHARED_CHARGE = (
    "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
    "ProviderName,InvoiceId,ResourceId,SkuId,ChargeCategory,ConsumedUnit,ConsumedQuantity,"
    "BilledCost,EffectiveCost,BillingCurrency,Tags\n"
    "lab-dc-1,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-30T00:00:00Z,"
    "2026-02-03T00:00:00Z,Lab Datacenter,DC-202601,lab-owned-archive,ARCHIVE-TB,Usage,TB,"
    '10,100.00,100.00,USD,"{""cluster"": ""lab-owned"", ""cost_type"": ""storage""}"\n'
)


def test_a_night_in_a_new_month_rewrites_only_that_months_shared_costs(tmp_path):
    """Non-GPU shared costs are split per cluster and month over the month's jobs, and a night
    rewrites them from the month its window starts in. A week of the tiny lab from 01-28 to
    02-03, then the night of 02-04 (its late credits are for 02-03; lookback 2 days): the
    window starts on 02-01, so the night deletes and recomputes February's shared rows and
    keeps January's, and the distribution, the ledger and every mart equal a full refresh. A
    charge that spans both months is split over both and its February piece recomputed."""
    lab = dataclasses.replace(scale.SCALES["tiny"], start=date(2026, 1, 28))
    home = Home.resolve(tmp_path / "month").ensure()
    scale.generate(home, lab)
    spanning = home.landing / "billing" / "lab-owned" / "lab-owned_archive_2026-01.csv"
    spanning.write_text(SPANNING_SHARED_CHARGE, encoding="utf-8")
    ingest.ingest_paths(home, [home.landing])
    assert warehouse.dbt_build(home, echo=False).startswith("full refresh")
    assert _shared_months(home) == ["2026-01", "2026-02"]  # storage and egress in both

    ingest.ingest_paths(home, scale.generate_day(home, lab))
    assert incremental.plan(home).refresh_from == datetime(2026, 2, 1)
    assert warehouse.dbt_build(home, echo=False).startswith("incremental from 2026-02-01 00:00")
    # The night deleted and recomputed February alone (January's rows are the full build's).
    window = "date_trunc('month', cast('2026-02-01 00:00:00' as timestamp))"
    compiled = home.root / "dbt_target" / "compiled" / "llmledger" / "models" / "intermediate"
    for name in ("int_shared_costs_distributed", "int_spend_ledger"):
        assert f"where month >= {window}" in (compiled / f"{name}.sql").read_text(), name
    # The statements of the night (a full build deletes nothing), whitespace collapsed.
    log = " ".join((home.root / "dbt_logs" / "dbt.log").read_text().split())
    assert f'int_shared_costs_distributed" where month >= {window}' in log
    assert (
        "or (cost_source in ('shared_cost', 'shared_unallocated') "
        f"and incurred_at >= {window})" in log
    )
    nightly, nightly_marts = _monthly(home), _marts(home)

    assert warehouse.dbt_build(home, echo=False, full_refresh=True).startswith("full refresh")
    full, full_marts = _monthly(home), _marts(home)
    assert nightly["int_shared_costs_distributed"]
    for name in full:
        assert nightly[name] == full[name], f"{name} differs after the night"
    for name in full_marts:
        assert nightly_marts[name] == full_marts[name], f"{name} differs after the night"


def _assert_the_night_skipped_only_what_cannot_change(home: Home, window: str) -> None:
    """The night re-parsed nothing (the window is an environment variable, not a var, and only
    SQL that dbt renders when it runs it reads it), ran only what is downstream of a raw source
    with new rows (billing, sacct, the ingest log: no invoice came and no row was quarantined,
    so the annotation models and the rejected-invoice report kept their rows),
    skipped the views, the seed and the unit tests (same project and config as the last build),
    yet ran every data test downstream, those on views too, with the charge_key tests on the
    window."""
    target = home.root / "dbt_target"
    ran = {r["unique_id"] for r in json.loads((target / "run_results.json").read_text())["results"]}
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = manifest["nodes"]
    views = {k for k, n in nodes.items() if n["config"].get("materialized") == "view"}
    tests = {k for k, n in nodes.items() if n["resource_type"] == "test"}
    tables = {
        k
        for k, n in nodes.items()
        if n["resource_type"] == "model" and n["config"].get("materialized") != "view"
    }
    changed = {f"source.llmledger.raw.{name}" for name in ("focus", "slurm_job", "ingest_log")}
    downstream: set[str] = set()
    frontier = set(changed)
    while frontier:
        downstream |= frontier
        frontier = {c for k in frontier for c in manifest["child_map"].get(k, [])} - downstream
    assert views and not ran & views
    assert not {r for r in ran if r.startswith(("unit_test.", "seed."))}
    assert ran == (tests | tables) & downstream
    kept = {k.rsplit(".", 1)[-1] for k in tables - ran}
    assert {"int_annotation_lines_mapped", "fct_annotation_cost", "rpt_rejected_invoices"} <= kept
    assert {"int_jobs_tagged", "fct_cost_allocation", "rpt_reconciliation"} <= {
        k.rsplit(".", 1)[-1] for k in ran
    }
    on_views = {k for k in tests if set(nodes[k]["depends_on"]["nodes"]) & views}
    assert any("stg_focus__charges_charge_key" in k for k in on_views)
    key_tests = [k for k in tests if "_in_refresh_window_" in k and "charge_key" in k]
    assert len(key_tests) == 3  # unique and not null, one test on each of 3 models
    for key in key_tests:
        node = nodes[key]
        sql = target / "run" / "llmledger" / node["original_file_path"] / node["path"]
        assert f"charge_period_start >= cast('{window}' as timestamp)" in sql.read_text()
    assert set(key_tests) <= ran
    # dbt read its saved parse before it had the night's command (warehouse.StartedDbt), then
    # built on it: the parse re-parsed no file, the build parsed nothing.
    *_, parse_log, build_log = (
        (home.root / "dbt_logs" / "dbt.log").read_text().split("Running with dbt=")
    )
    assert "invocation_command': 'dbt parse" in parse_log
    assert "Partial parsing enabled, no changes found, skipping parsing" in parse_log
    assert "invocation_command': 'dbt build" in build_log
    assert "Partial parsing" not in build_log


REPLACEMENT = (
    "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
    "ProviderName,InvoiceId,ResourceId,SkuId,ChargeCategory,ConsumedUnit,ConsumedQuantity,"
    "BilledCost,EffectiveCost,BillingCurrency,Tags,x_DeliveryStyle\n"
    "hb-9930,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-03T00:00:00Z,"
    "2026-01-03T01:00:00Z,Hyperbolt,HB-202601,cloud-b-n0000,H200-GPU-HOUR,Usage,GPU-Hours,8,"
    '16.72,16.72,USD,"{""cluster"": ""cloud-b""}",replacement\n'
)


def test_a_replacement_snapshot_reaches_back_to_its_billing_period(built: Home):
    home = built
    warehouse.dbt_build(home, echo=False)  # whatever the previous test left, a built state
    path = home.landing / "billing" / "cloud-b" / "cloud-b_snapshot_2026-01.csv"
    path.write_text(REPLACEMENT, encoding="utf-8")
    # Ingested after every other file and exported at ingest time (no x_ExportedAt), the
    # snapshot supersedes every Hyperbolt row of January, the first from 01-01 00:00.
    ingest.ingest_paths(home, [path])
    plan = incremental.plan(home)
    assert plan.refresh_from == datetime(2025, 12, 30)
    assert warehouse.dbt_build(home, echo=False).startswith("incremental from 2025-12-30 00:00")
    nightly = _marts(home)
    with warehouse.connect_readonly(home) as con:
        hyperbolt = con.execute(
            "select count(*), sum(billed_cost) from fct_billing_charge where provider = 'Hyperbolt'"
        ).fetchall()[0]
    assert hyperbolt == (1, Decimal("16.72"))

    warehouse.dbt_build(home, echo=False, full_refresh=True)
    full = _marts(home)
    for name in full:
        assert nightly[name] == full[name], f"{name} differs after the replacement night"


RELOGGED = (
    "JobID|JobName|Partition|Account|User|WCKey|Comment|Cluster|State|Submit|Start|End|Elapsed|"
    "AllocTRES\n"
    "1000000|run-gen03|eval|evaluation|u73||activity=data.selection;model_generation=gen03|"
    "cloud-a|COMPLETED|2026-01-01T19:11:14|2026-01-01T19:11:14|2026-01-01T19:34:14|0-00:23:00|"
    "billing=20,cpu=60,gres/gpu=5,mem=600G,node=1\n"
)


def test_a_job_logged_again_is_retagged_from_all_its_records(built: Home):
    """A new sacct file re-logs a job of the first day with another activity: the night
    re-tags that job (int_jobs_tagged keeps the rest of the jobs as tagged) and its GPU cost
    moves, exactly as a full refresh has it."""
    home = built
    warehouse.dbt_build(home, echo=False)

    def tagged() -> list[tuple]:
        with warehouse.connect_readonly(home) as con:
            return con.execute(
                "select job_key, activity from intermediate.int_jobs_tagged "
                "where cluster = 'cloud-a' and job_id = '1000000'"
            ).fetchall()

    assert tagged() == [("cloud-a/1000000", "evaluation")]
    path = home.landing / "pipeline" / "sacct_relogged.txt"
    path.write_text(RELOGGED, encoding="utf-8")
    ingest.ingest_paths(home, [path])
    plan = incremental.plan(home)
    assert plan.refresh_from == datetime(2025, 12, 30)  # the job's submit, less the lookback
    assert warehouse.dbt_build(home, echo=False).startswith("incremental from 2025-12-30 00:00")
    assert tagged() == [("cloud-a/1000000", "data.selection")]
    with warehouse.connect_readonly(home) as con:
        nightly_jobs = con.execute(
            "select * from intermediate.int_jobs_tagged order by all"
        ).fetchall()
    nightly = _marts(home)
    assert any(
        r
        for r in nightly["fct_cost_allocation"]
        if "cloud-a/1000000" in r and "data.selection" in r
    )

    warehouse.dbt_build(home, echo=False, full_refresh=True)
    with warehouse.connect_readonly(home) as con:
        full_jobs = con.execute(
            "select * from intermediate.int_jobs_tagged order by all"
        ).fetchall()
    assert nightly_jobs == full_jobs
    full = _marts(home)
    for name in full:
        assert nightly[name] == full[name], f"{name} differs after the re-logged job"


LEADING_ZEROS = (
    "JobID|JobName|Partition|Account|User|WCKey|Comment|Cluster|State|Submit|Start|End|Elapsed|"
    "AllocTRES\n"
    "0042|sel-gen03|eval|evaluation|u12||activity=data.selection;model_generation=gen03|"
    "cloud-a|COMPLETED|2026-01-07T10:00:00|2026-01-07T10:00:00|2026-01-07T12:00:00|0-02:00:00|"
    "billing=20,cpu=60,gres/gpu=8,mem=600G,node=1\n"
)


def test_a_night_retags_its_jobs_whatever_their_ids(built: Home):
    """The night ranks the records of its own jobs only, through a job-id range around them
    that DuckDB pushes into the scan. The range is of text: a new job 0042 is its least end
    (before 1000000 and the rest), and neither it nor any other job of the window is lost."""
    home = built
    warehouse.dbt_build(home, echo=False)
    path = home.landing / "pipeline" / "sacct_leading_zeros.txt"
    path.write_text(LEADING_ZEROS, encoding="utf-8")
    ingest.ingest_paths(home, [path])
    assert warehouse.dbt_build(home, echo=False).startswith("incremental from 2026-01-05 00:00")

    def jobs() -> list[tuple]:
        with warehouse.connect_readonly(home) as con:
            return con.execute("select * from intermediate.int_jobs_tagged order by all").fetchall()

    nightly_jobs = jobs()
    with warehouse.connect_readonly(home) as con:
        assert con.execute(
            "select job_key, activity from intermediate.int_jobs_tagged where job_id = '0042'"
        ).fetchall() == [("cloud-a/0042", "data.selection")]
    nightly = _marts(home)
    warehouse.dbt_build(home, echo=False, full_refresh=True)
    assert nightly_jobs == jobs()
    full = _marts(home)
    for name in full:
        assert nightly[name] == full[name], f"{name} differs after the job with leading zeros"


def test_a_moved_home_means_a_full_refresh(built: Home, tmp_path):
    """The staging views read the raw layer by the home's path, and a night leaves views as
    they are: in a home moved elsewhere they would read the old home's files (or none)."""
    moved = Home.resolve(tmp_path / "moved")
    shutil.copytree(built.root, moved.root)
    plan = incremental.plan(moved)
    assert plan.full
    assert plan.reason == f"the home moved (last built at {built.root})"


def test_changed_config_means_a_full_refresh(built: Home):
    home = built
    warehouse.dbt_build(home, echo=False)
    assert not incremental.plan(home).full
    policies = home.config / "policies.yaml"
    policies.write_text(policies.read_text().replace("idle_policy: show", "idle_policy: pro_rata"))
    from llmledger import config

    config.stage(home)
    plan = incremental.plan(home)
    assert plan.full and plan.reason == "config or closed periods changed"


def _key_test_failures(home: Home, refresh_from: str) -> int:
    """Run the charge_key test of int_billing_deliveries_resolved with this window: its
    failures (a row per duplicated key, and one for the null keys)."""
    warehouse.run_dbt(
        home,
        ["test"],
        "--select",
        "int_billing_deliveries_resolved,test_name:key_in_refresh_window",
        extra_env={incremental.REFRESH_ENV: refresh_from},
    )
    results = json.loads((home.root / "dbt_target" / "run_results.json").read_text())["results"]
    (result,) = results
    return result["failures"]


def test_the_charge_key_tests_check_the_window_and_only_it(built: Home, tmp_path):
    """A duplicate and a null key before the window are not the night's to find (the build that
    wrote those rows checked them); the same faults from the window's start on are found, and
    a full build's window (everything) finds both."""
    home = Home.resolve(tmp_path / "copy")
    shutil.copytree(built.root, home.root)
    home.ensure()
    with duckdb.connect(str(home.warehouse)) as con:
        table = "intermediate.int_billing_deliveries_resolved"
        for day in ("2026-01-02", "2026-01-07"):  # one early, one in a window from 01-05
            row = f"from {table} where cast(charge_period_start as date) = '{day}' limit 1"
            con.execute(f"insert into {table} select * {row}")  # a duplicate key
            con.execute(f"insert into {table} select * replace (null as charge_key) {row}")
    assert _key_test_failures(home, "2026-01-05 00:00:00") == 2  # 01-07's duplicate, its null
    assert _key_test_failures(home, "2026-01-08 00:00:00") == 0
    assert _key_test_failures(home, "1900-01-01 00:00:00") == 3  # two duplicates, the nulls
    # What the failing rows say, over everything: each problem, and how many rows have it.
    name = "key_in_refresh_window_int_*.sql"  # dbt shortens the name: the intermediate one
    (compiled,) = (home.root / "dbt_target" / "compiled").rglob(name)
    with warehouse.connect_readonly(home) as con:
        found = con.execute(f"select problem, n_records from ({compiled.read_text()})").fetchall()
    assert sorted(found) == [("duplicate", 2), ("duplicate", 2), ("null", 2)]


LATE_WITH_A_BAD_ROW = (
    "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
    "ProviderName,InvoiceId,ResourceId,SkuId,ChargeCategory,ConsumedUnit,ConsumedQuantity,"
    "BilledCost,EffectiveCost,BillingCurrency,Tags\n"
    "nimbus-4471,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-07T05:00:00Z,"
    "2026-01-07T06:00:00Z,Nimbus Cloud,NMB-202601,cloud-a-n0000,H200-GPU-HOUR,Usage,GPU-Hours,"
    '8,18.80,16.92,USD,"{""cluster"": ""cloud-a""}"\n'
    "nimbus-4471,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-07T06:00:00Z,"
    "2026-01-07T07:00:00Z,Nimbus Cloud,NMB-202601,cloud-a-n0000,H200-GPU-HOUR,Usage,GPU-Hours,"
    '8,eighteen,16.92,USD,"{""cluster"": ""cloud-a""}"\n'
)


def test_a_night_that_quarantines_a_row_rebuilds_what_reads_the_quarantine(built: Home):
    """The quarantine is new only when its files changed: a night whose file has a rejected
    row runs what reads the quarantine (rpt_rejected_invoices), the next night does not, and
    the marts still equal a full refresh."""
    home = built
    warehouse.dbt_build(home, echo=False)  # whatever the previous test left, a built state
    path = home.landing / "billing" / "cloud-a" / "cloud-a_focus_late.csv"
    path.write_text(LATE_WITH_A_BAD_ROW, encoding="utf-8")
    (result,) = ingest.ingest_paths(home, [path])
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert "quarantined_row" in incremental.plan(home).changed_sources()
    warehouse.dbt_build(home, echo=False)
    results = json.loads((home.root / "dbt_target" / "run_results.json").read_text())
    assert "model.llmledger.rpt_rejected_invoices" in {r["unique_id"] for r in results["results"]}
    assert "quarantined_row" not in incremental.plan(home).changed_sources()

    nightly = _marts(home)
    warehouse.dbt_build(home, echo=False, full_refresh=True)
    full = _marts(home)
    for name in full:
        assert nightly[name] == full[name], f"{name} differs after the quarantining night"


def test_the_ingest_log_table_follows_log_files_rewritten_or_removed(built: Home):
    """stg_ingest__files reads only the log files it has not read as they are now: a log file
    rewritten (here a file's status changed) is read again, a removed one's row is dropped, the
    others are not read. Last in this module: it changes the home."""
    from llmledger.ingest.writer import read_log, write_log

    home = built
    before = dict(_ingest_log(home))
    rewritten, removed, *_ = sorted(before)
    row = read_log(home, rewritten)
    row["status"] = "file_quarantined"
    write_log(home, row)
    (home.ingest_log / f"{removed}.parquet").unlink()

    warehouse.dbt_build(home, ["--select", "stg_ingest__files"], echo=False)

    expected = {**before, rewritten: "file_quarantined"}
    del expected[removed]
    assert _ingest_log(home) == sorted(expected.items())  # one row a file, no stale row
    assert _ingest_log_files_read(home) == {str(home.ingest_log / f"{rewritten}.parquet")}
