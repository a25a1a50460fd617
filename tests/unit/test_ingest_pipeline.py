"""The per-file ingest flow: idempotency, landing copies, file quarantine, accounting."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from llmledger.ingest import IngestResult, ingest_file, ingest_paths, pending_files
from llmledger.ingest.common import Parsed
from llmledger.ingest.detect import sniff_kind
from llmledger.paths import Home
from llmledger.raw_schema import INGEST_LOG, write_schema_files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
# shared/ sits beside the repository (here and in CI).
SAMPLE = next(
    parent
    / "shared/fixtures/focus/commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv"
    for parent in Path(__file__).resolve().parents[2:]
    if (parent / "shared/fixtures/focus").is_dir()
)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    for folder in ("billing", "invoices", "pipeline"):
        (home.landing / folder).mkdir(parents=True)
    write_schema_files(home)
    return home


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _log(home: Home, sha: str) -> dict:
    table = pq.read_table(home.ingest_log / f"{sha}.parquet")
    assert table.schema.equals(INGEST_LOG)
    [row] = table.to_pylist()
    return row


def test_same_file_twice_changes_nothing(home: Home):
    first = ingest_file(home, FIXTURES / "focus_messy.csv")
    before = _snapshot(home.root)
    second = ingest_file(home, FIXTURES / "focus_messy.csv")

    assert first.status == "loaded"
    assert second.status == "already_ingested"
    assert second.sha256 == first.sha256
    assert second.rows_loaded == 0
    assert "landing/billing/ingest/focus_messy.csv" in second.message
    assert _snapshot(home.root) == before


def test_same_content_under_another_name_is_already_ingested(home: Home, tmp_path: Path):
    ingest_file(home, SAMPLE)
    copy = tmp_path / "elsewhere" / "renamed.csv"
    copy.parent.mkdir()
    shutil.copy(SAMPLE, copy)
    assert ingest_file(home, copy).status == "already_ingested"
    assert not (home.landing / "billing" / "elsewhere").exists()


def test_outside_file_is_copied_to_landing_and_logged(home: Home):
    result = ingest_file(home, SAMPLE)

    assert (
        result.source_file
        == "landing/billing/commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv"
    )
    assert (home.root / result.source_file).read_bytes() == SAMPLE.read_bytes()
    row = _log(home, result.sha256)
    assert (row["status"], row["kind"], row["parser"]) == ("loaded", "focus", "focus_csv")
    assert (row["rows_read"], row["rows_loaded"], row["rows_quarantined"], row["rows_skipped"]) == (
        2,
        2,
        0,
        0,
    )
    assert (home.raw_dir("focus") / f"{result.sha256}.parquet").exists()
    assert not (home.quarantine_rows / f"{result.sha256}.parquet").exists()
    # Temporary files are hidden and gone once the rename happened.
    assert not [p for p in home.root.rglob(".*") if p.is_file()]


def test_log_counts_match_result_for_bad_rows(home: Home):
    result = ingest_file(home, FIXTURES / "sacct_jobs.txt", kind="pipeline")
    row = _log(home, result.sha256)
    assert (row["rows_read"], row["rows_loaded"], row["rows_quarantined"], row["rows_skipped"]) == (
        14,
        4,
        5,
        5,
    )
    assert row["rows_read"] == row["rows_loaded"] + row["rows_quarantined"] + row["rows_skipped"]
    assert result.source_file == "landing/pipeline/sacct_jobs.txt"
    quarantined = pq.read_table(home.quarantine_rows / f"{result.sha256}.parquet")
    assert quarantined.num_rows == 5
    assert set(quarantined.column("_source_file").to_pylist()) == {
        "landing/pipeline/sacct_jobs.txt"
    }


def test_binary_file_is_quarantined_as_a_file(home: Home):
    garbage = home.landing / "billing" / "aws" / "export.parquet"
    garbage.parent.mkdir()
    garbage.write_bytes(b"PAR1\x00\x01\x02\xff\xfe" * 20)
    result = ingest_file(home, garbage)

    assert result.status == "file_quarantined"
    record = json.loads((home.quarantine_files / f"{result.sha256}.json").read_text())
    # It starts like Parquet, so it is reported as a damaged Parquet file.
    message = record.pop("message")
    assert record == {
        "source_file": "landing/billing/aws/export.parquet",
        "sha256": result.sha256,
        "kind": "focus",
        "reason_code": "bad_parquet",
    }
    assert message.startswith("not a readable Parquet file (")
    row = _log(home, result.sha256)
    assert (row["status"], row["rows_read"]) == ("file_quarantined", 0)
    assert not (home.raw_dir("focus") / f"{result.sha256}.parquet").exists()
    assert ingest_file(home, garbage).status == "already_ingested"


def test_unrecognised_outside_file_is_quarantined_without_a_copy(home: Home, tmp_path: Path):
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes, nothing to see\n")
    result = ingest_file(home, notes)
    assert (result.status, result.kind, result.parser) == ("file_quarantined", "unknown", "none")
    assert result.message.startswith("unknown_kind: ")
    assert result.source_file == str(notes)
    assert _snapshot(home.landing) == {}


def test_pending_files_and_folder_ingest_with_progress(home: Home):
    billing = home.landing / "billing" / "samples"
    billing.mkdir()
    shutil.copy(SAMPLE, billing / "usage.csv")
    (home.landing / "pipeline" / "jobs.txt").write_bytes((FIXTURES / "sacct_jobs.txt").read_bytes())
    (home.landing / "billing" / ".hidden.csv").write_text("ignored")
    (home.landing / ".cache").mkdir()
    (home.landing / ".cache" / "x.csv").write_text("ignored")

    pending = pending_files(home)
    assert pending == sorted([billing / "usage.csv", home.landing / "pipeline" / "jobs.txt"])

    seen: list[tuple[int, int, str]] = []
    results = ingest_paths(
        home, [home.landing], progress=lambda d, t, r: seen.append((d, t, r.kind))
    )
    assert [r.kind for r in results] == ["focus", "slurm_job"]
    assert seen == [(1, 2, "focus"), (2, 2, "slurm_job")]
    assert all(isinstance(r, IngestResult) for r in results)
    assert pending_files(home) == []


def test_auto_kind_sniffs_headers_of_outside_files(home: Home, tmp_path: Path):
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(FIXTURES / "sacct_jobs.txt", folder / "a.txt")
    shutil.copy(SAMPLE, folder / "b.csv")
    results = ingest_paths(home, [folder])
    assert [(r.kind, r.source_file) for r in results] == [
        ("slurm_job", "landing/pipeline/a.txt"),
        ("focus", "landing/billing/drop/b.csv"),
    ]


def test_sniff_kind():
    assert sniff_kind("JobID|JobName\n") == "slurm_job"
    assert sniff_kind("\ufeffBilledCost,ChargePeriodStart\n") == "focus"
    assert sniff_kind("invoice_id,line_id,quantity,unit_price\n") == "annotation_invoice"
    assert sniff_kind("a,b,c\n") is None
    assert sniff_kind("") is None


def test_unknown_kind_argument_and_missing_path(home: Home, tmp_path: Path):
    with pytest.raises(ValueError, match="billing, invoices, pipeline, auto"):
        ingest_paths(home, [SAMPLE], kind="cur")
    with pytest.raises(FileNotFoundError):
        ingest_paths(home, [tmp_path / "missing.csv"])


def test_broken_row_accounting_raises_and_writes_nothing(
    home: Home, monkeypatch: pytest.MonkeyPatch
):
    from llmledger.ingest import pipeline

    real_parse = pipeline.billing.parse

    def miscounting(*args) -> Parsed:
        # Drops a row without quarantining it: exactly the loss the invariant exists to catch.
        parsed = real_parse(*args)
        return Parsed(parsed.parser, parsed.records[:1], [], rows_read=parsed.rows_read)

    monkeypatch.setattr(pipeline.billing, "parse", miscounting)
    with pytest.raises(RuntimeError, match="row accounting broken"):
        ingest_file(home, SAMPLE)
    assert [p.name for p in home.ingest_log.iterdir()] == ["_schema.parquet"]
    assert [p.name for p in home.raw_dir("focus").iterdir()] == ["_schema.parquet"]


def test_crash_before_the_log_row_leaves_the_file_pending(
    home: Home, monkeypatch: pytest.MonkeyPatch
):
    from llmledger.ingest import pipeline

    landed = home.landing / "pipeline" / "jobs.txt"
    shutil.copy(FIXTURES / "sacct_jobs.txt", landed)
    real_write = pipeline.write_parquet

    def crash_on_quarantine(table, path):
        if path.parent == home.quarantine_rows:
            raise OSError("disk full")
        real_write(table, path)

    monkeypatch.setattr(pipeline, "write_parquet", crash_on_quarantine)
    with pytest.raises(OSError, match="disk full"):
        ingest_file(home, landed)
    # The raw file was written, but without its log row the file is not done.
    assert pending_files(home) == [landed]

    monkeypatch.setattr(pipeline, "write_parquet", real_write)
    result = ingest_file(home, landed)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 4, 5)
    assert pending_files(home) == []
