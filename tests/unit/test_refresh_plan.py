"""What an incremental night asks dbt to run (llmledger.incremental.RefreshPlan)."""

from __future__ import annotations

from datetime import datetime

from llmledger.incremental import EVERYTHING, REFRESH_ENV, RefreshPlan


def _select(args: list[str]) -> list[str]:
    start = args.index("--select") + 1
    end = args.index("--exclude")
    return args[start:end]


def _night(**changes) -> RefreshPlan:
    """An incremental night from 2026-01-05 (what ``plan`` returns), with ``changes``."""
    return RefreshPlan(full=False, reason="", refresh_from=datetime(2026, 1, 5), **changes)


def test_a_full_refresh_runs_everything_from_the_beginning():
    plan = RefreshPlan(full=True, reason="requested")
    assert plan.dbt_args() == ["--full-refresh"]
    assert plan.dbt_env() == {REFRESH_ENV: EVERYTHING}


def test_a_night_runs_only_downstream_of_the_sources_with_new_rows():
    plan = _night(new_files=2, new_kinds=["slurm_job"])
    args = plan.dbt_args()
    # sacct logs came, no bill, no invoice: billing models run only through the ingest log.
    assert _select(args) == [
        "source:raw.ingest_log+",
        "source:raw.quarantined_row+",
        "source:raw.slurm_job+",
    ]
    assert args[args.index("--exclude") + 1 : args.index("--indirect-selection")] == [
        "config.materialized:view",
        "resource_type:seed",
        "resource_type:unit_test",
    ]
    assert args[-2:] == ["--indirect-selection", "empty"]
    assert plan.dbt_env() == {REFRESH_ENV: "2026-01-05 00:00:00"}
    assert plan.describe() == (
        "incremental from 2026-01-05 00:00 (2 new file(s) since the last build: slurm_job)"
    )


def test_a_night_without_new_files_still_rechecks_the_ingest_log():
    plan = _night()
    assert _select(plan.dbt_args()) == ["source:raw.ingest_log+", "source:raw.quarantined_row+"]
    assert plan.describe().endswith("(0 new file(s) since the last build)")


def test_a_night_that_quarantined_nothing_leaves_what_reads_the_quarantine():
    plan = _night(new_files=1, new_kinds=["focus"], quarantine_changed=False)
    assert _select(plan.dbt_args()) == ["source:raw.focus+", "source:raw.ingest_log+"]


def test_the_quarantine_signature_changes_with_a_file_added_rewritten_or_removed(tmp_path):
    import os

    from llmledger.incremental import quarantine_signature
    from llmledger.paths import Home

    home = Home.resolve(tmp_path / "home").ensure()
    (home.quarantine_rows / "_schema.parquet").write_bytes(b"schema")  # not a quarantine file
    empty = quarantine_signature(home)
    assert empty == []
    rows = home.quarantine_rows / ("a" * 64 + ".parquet")
    rows.write_bytes(b"one")
    added = quarantine_signature(home)
    os.utime(rows, ns=(1_000_000_000, 1_000_000_000))
    rows.write_bytes(b"two")  # same size, written again: another modification time
    rewritten = quarantine_signature(home)
    rows.unlink()
    assert len({tuple(empty), tuple(added), tuple(rewritten)}) == 3
    assert quarantine_signature(home) == empty
