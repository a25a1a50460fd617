"""JSONL run manifests: schema, validation with reasons, detection, ingest row accounting."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from llmledger import ingest
from llmledger.ingest import manifest
from llmledger.ingest.detect import kind_from_landing, sniff_kind
from llmledger.paths import Home

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "run_manifests.jsonl"


def test_parse_accepts_good_records_and_quarantines_bad_ones_with_reasons():
    """7 physical lines, 1 blank (not a row): 6 read, 2 loaded, 4 quarantined."""
    parsed = manifest.parse(FIXTURE.read_text())
    assert (parsed.rows_read, len(parsed.records), len(parsed.rejected)) == (6, 2, 4)
    first, second = (r.values for r in parsed.records)
    assert first["run_id"] == "pt-gen1-001" and first["job_id"] == "2"
    assert first["tokens"] == 2 * 10**12  # 2e12 in JSON is a float: kept exact as an integer
    assert first["parameters"] == 7 * 10**9 and first["gpu_type"] == "a100"
    assert json.loads(first["datasets_consumed"]) == ["ds-a"]
    assert json.loads(first["extra"]) == {"framework": "megatron"}
    # +01:00 converted to naive UTC; a running record has no end; "500" is an exact integer.
    assert second["start_time"] == datetime(2026, 1, 1, 0, 0)
    assert second["end_time"] is None and second["tokens"] == 500
    assert second["stage"] == "rollout"
    reasons = {r.line: (r.reason_code, r.column, r.value) for r in parsed.rejected}
    assert reasons[4] == ("bad_stage", "stage", "pretraining")
    assert reasons[5] == ("bad_value", "gpus", "0")
    assert reasons[6][0] == "bad_json"
    assert reasons[7][:2] == ("end_before_start", "end")


def test_detected_by_landing_suffix_and_by_first_line():
    assert kind_from_landing(Path("pipeline/runs/2026-01.jsonl")) == "run_manifest"
    assert kind_from_landing(Path("pipeline/sacct.txt")) == "slurm_job"
    assert sniff_kind('{"run_id": "x", "cluster": "c"}\n') == "run_manifest"
    assert sniff_kind('{"something": "else"}\n') is None


def test_ingest_writes_raw_rows_and_quarantine(tmp_path: Path):
    home = Home.resolve(tmp_path / "home").ensure()
    (result,) = ingest.ingest_paths(home, [FIXTURE])
    assert (result.kind, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "run_manifest",
        6,
        2,
        4,
    )
    assert result.source_file == "landing/pipeline/run_manifests.jsonl"
    table = pq.read_table(home.raw_dir("run_manifest") / f"{result.sha256}.parquet")
    assert table.column("_source_row").to_pylist() == [1, 2]
    assert (home.raw_dir("run_manifest") / "_schema.parquet").exists()
