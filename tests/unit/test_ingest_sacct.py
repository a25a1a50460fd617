"""Slurm sacct --parsable2 ingest."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from llmledger.ingest import ingest_file
from llmledger.ingest.common import FileRejected, RowError
from llmledger.ingest.sacct import parse, parse_elapsed, parse_gpus
from llmledger.paths import Home
from llmledger.raw_schema import SLURM_JOB, write_schema_files

JOBS = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "sacct_jobs.txt"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    for folder in ("billing", "invoices", "pipeline"):
        (home.landing / folder).mkdir(parents=True)
    write_schema_files(home)
    return home


def test_sacct_file_jobs_steps_and_bad_rows(home: Home):
    result = ingest_file(home, JOBS, kind="pipeline")

    # 14 lines after the header (one blank line is not a row): 4 jobs, 5 steps, 5 bad rows.
    assert (result.rows_read, result.rows_loaded, result.rows_skipped, result.rows_quarantined) == (
        14,
        4,
        5,
        5,
    )
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_skipped
    table = pq.read_table(home.raw_dir("slurm_job") / f"{result.sha256}.parquet")
    assert table.schema.equals(SLURM_JOB)
    jobs = {row["job_id"]: row for row in table.to_pylist()}
    assert sorted(jobs) == ["1001", "1003_2", "1004", "55+1"]

    pretrain = jobs["1001"]
    assert (pretrain["gpus"], pretrain["gpu_type"], pretrain["elapsed_seconds"]) == (8, None, 9000)
    assert pretrain["start_time"] == datetime(2026, 1, 5, 10)
    assert pretrain["submit_time"] == datetime(2026, 1, 5, 9, 55)
    assert pretrain["comment"] == "activity=training.pretrain;model_generation=gen2"
    assert (pretrain["cluster"], pretrain["user_name"], pretrain["wckey"]) == (
        "gpu-a",
        "alice",
        "gen2",
    )
    assert pretrain["_source_row"] == 2
    # Typed and untyped entries for the same GPUs are not double counted.
    array_task = jobs["1003_2"]
    assert (array_task["gpus"], array_task["gpu_type"]) == (4, "h100")
    assert array_task["state"] == "CANCELLED by 123"
    assert array_task["elapsed_seconds"] == 1 * 86400 + 3600 + 30
    assert array_task["_source_row"] == 7
    running = jobs["55+1"]
    assert (running["gpus"], running["gpu_type"], running["end_time"]) == (2, "a100", None)
    assert running["elapsed_seconds"] == 300
    assert (jobs["1004"]["gpus"], jobs["1004"]["gpu_type"]) == (0, None)

    bad = pq.read_table(home.quarantine_rows / f"{result.sha256}.parquet").to_pylist()
    assert {q["_source_row"]: (q["reason_code"], q["column_name"]) for q in bad} == {
        12: ("bad_timestamp", "Start"),
        13: ("bad_elapsed", "Elapsed"),
        14: ("field_count", None),
        15: ("expect_column_pair_values_a_to_be_greater_than_b", "end_time"),
        16: ("bad_alloc_tres", "AllocTRES"),
    }
    assert bad[2]["raw_text"] == "1007|too|few|fields"


def test_headerless_dump_uses_contract_column_order():
    text = (
        "2001|sft|gpu|research|ann|||gpu-a|COMPLETED|2026-02-01T00:00:00|2026-02-01T01:00:00|"
        "2026-02-01T03:00:00|02:00:00|gres/gpu:h100=8\n"
        "2001.batch|batch||||||||||||\n"
    )
    parsed = parse(text)
    [record] = parsed.records
    assert (parsed.rows_read, parsed.rows_skipped) == (2, 1)
    assert record.values["job_name"] == "sft"
    assert record.values["end_time"] == datetime(2026, 2, 1, 3)
    assert (record.values["gpus"], record.values["gpu_type"]) == (8, "h100")
    assert record.line == 1


def test_header_in_any_order_with_extra_columns_and_trailing_pipe():
    text = (
        "State|AllocTRES|NodeList|JobID|End|Start|\n"
        "COMPLETED|gres/gpu=2|node01|77|2026-02-01T02:00:00|2026-02-01T01:00:00|\n"
    )
    [record] = parse(text).records
    assert record.values["job_id"] == "77"
    assert record.values["gpus"] == 2
    assert record.values["start_time"] == datetime(2026, 2, 1, 1)
    assert record.values["cluster"] is None


def test_times_are_converted_from_the_slurm_time_zone():
    text = "JobID|Start|End\n9|2026-01-05T10:00:00|2026-07-05T10:00:00\n"
    [record] = parse(text, ZoneInfo("America/New_York")).records
    assert record.values["start_time"] == datetime(2026, 1, 5, 15)  # EST, UTC-5
    assert record.values["end_time"] == datetime(2026, 7, 5, 14)  # EDT, UTC-4


def test_policy_time_zone_is_used_by_ingest(home: Home):
    from llmledger import config

    config.write_empty(home)
    (home.config / "policies.yaml").write_text(
        config.policies_yaml({"slurm_timezone": "Asia/Tokyo"})
    )
    source = home.landing / "pipeline" / "jobs.sacct"
    source.write_text("JobID|Start|End|AllocTRES\n9|2026-01-05T10:00:00|None|gres/gpu=1\n")
    result = ingest_file(home, source)
    [row] = pq.read_table(home.raw_dir("slurm_job") / f"{result.sha256}.parquet").to_pylist()
    assert row["start_time"] == datetime(2026, 1, 5, 1)  # JST, UTC+9
    assert row["end_time"] is None


def test_a_changed_time_zone_policy_is_used_by_the_next_file(home: Home):
    """The policy is cached between files (365 sacct logs a year); an edit must still count."""
    import os

    from llmledger import config

    config.write_empty(home)
    policies = home.config / "policies.yaml"
    policies.write_text(config.policies_yaml({"slurm_timezone": "Asia/Tokyo"}))
    first = home.landing / "pipeline" / "day1.sacct"
    first.write_text("JobID|Start|End|AllocTRES\n9|2026-01-05T10:00:00|None|gres/gpu=1\n")
    ingest_file(home, first)
    policies.write_text(config.policies_yaml({"slurm_timezone": "America/New_York"}))
    stat = policies.stat()  # same second on a coarse clock: move mtime on explicitly
    os.utime(policies, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = home.landing / "pipeline" / "day2.sacct"
    second.write_text("JobID|Start|End|AllocTRES\n10|2026-01-05T10:00:00|None|gres/gpu=1\n")
    result = ingest_file(home, second)
    [row] = pq.read_table(home.raw_dir("slurm_job") / f"{result.sha256}.parquet").to_pylist()
    assert row["start_time"] == datetime(2026, 1, 5, 15)  # EST, UTC-5


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:59", 59), ("01:00:00", 3600), ("2-00:00:01", 172801), ("", None), ("1-1:1:1", 90061)],
)
def test_elapsed(text: str, seconds: int | None):
    assert parse_elapsed(text) == seconds


@pytest.mark.parametrize(
    ("tres", "expected"),
    [
        ("cpu=4,mem=8G,node=1", (0, None)),
        ("billing=8,cpu=8,gres/gpu=8,node=1", (8, None)),
        ("gres/gpu:h100=8", (8, "h100")),
        ("gres/gpu:a100=2,gres/gpu:h100=4", (6, "a100,h100")),
        ("", (0, None)),
    ],
)
def test_gpus_from_alloc_tres(tres: str, expected: tuple[int, str | None]):
    assert parse_gpus(tres) == expected


def test_bad_gpu_count_is_a_row_error():
    with pytest.raises(RowError) as caught:
        parse_gpus("gres/gpu=eight")
    assert caught.value.reason_code == "bad_alloc_tres"


def test_text_without_pipes_is_not_sacct():
    with pytest.raises(FileRejected) as caught:
        parse("just some notes\n")
    assert caught.value.reason_code == "unrecognised_header"


def test_requeued_failed_and_timed_out_attempts_and_a_job_across_midnight():
    """`sacct --duplicates` lists a requeued job's earlier attempt (REQUEUED) beside the final
    one under the same id; NODE_FAIL and TIMEOUT jobs held their GPUs until they ended. Each
    line is a job line kept with its state verbatim; the heterogeneous component 56+0 and the
    step 56+0.0 are told apart. Job 57 runs 23:30 -> 01:15 the next day: 6,300 s."""
    header = (
        "JobID|JobName|Partition|Account|User|WCKey|Comment|Cluster|State|Submit|Start|End|"
        "Elapsed|AllocTRES"
    )
    lines = [
        "42|pt|gpu|pretrain|bob|||c1|REQUEUED|2026-01-01T09:00:00|2026-01-01T10:00:00|2026-01-01T10:20:00|00:20:00|gres/gpu:h100=8",
        "42|pt|gpu|pretrain|bob|||c1|COMPLETED|2026-01-01T09:00:00|2026-01-01T10:40:00|2026-01-01T11:00:00|00:20:00|gres/gpu:h100=8",
        "43|x|gpu|data|eve|||c1|NODE_FAIL|2026-01-01T09:00:00|2026-01-01T10:00:00|2026-01-01T10:05:00|00:05:00|gres/gpu=4",
        "44|y|gpu|data|eve|||c1|TIMEOUT|2026-01-01T09:00:00|2026-01-01T10:00:00|2026-01-02T10:00:00|1-00:00:00|gres/gpu=2",
        "56+0|het|gpu|data|eve|||c1|COMPLETED|2026-01-01T09:00:00|2026-01-01T10:00:00|2026-01-01T11:00:00|01:00:00|gres/gpu=1",
        "56+0.0|het|||||||COMPLETED|2026-01-01T09:00:00|2026-01-01T10:00:00|2026-01-01T11:00:00|01:00:00|gres/gpu=1",
        "57|night|gpu|data|eve|||c1|COMPLETED|2026-01-01T23:00:00|2026-01-01T23:30:00|2026-01-02T01:15:00|01:45:00|gres/gpu=1",
    ]
    parsed = parse("\n".join([header, *lines]) + "\n")
    assert (parsed.rows_read, parsed.rows_skipped) == (7, 1)
    assert not parsed.rejected
    values = [record.values for record in parsed.records]
    rows = [(r["job_id"], r["state"], r["start_time"], r["end_time"], r["gpus"]) for r in values]
    assert rows == [
        ("42", "REQUEUED", datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 10, 20), 8),
        ("42", "COMPLETED", datetime(2026, 1, 1, 10, 40), datetime(2026, 1, 1, 11), 8),
        ("43", "NODE_FAIL", datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 10, 5), 4),
        ("44", "TIMEOUT", datetime(2026, 1, 1, 10), datetime(2026, 1, 2, 10), 2),
        ("56+0", "COMPLETED", datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 11), 1),
        ("57", "COMPLETED", datetime(2026, 1, 1, 23, 30), datetime(2026, 1, 2, 1, 15), 1),
    ]
    assert values[-1]["elapsed_seconds"] == 6300
    assert values[3]["elapsed_seconds"] == 86400
