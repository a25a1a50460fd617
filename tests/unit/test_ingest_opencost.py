"""OpenCost allocation JSON: windows, labels, idle and zero-GPU skips, quarantine, accounting."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from llmledger import ingest
from llmledger.ingest import opencost
from llmledger.ingest.common import FileRejected
from llmledger.ingest.detect import kind_from_landing, sniff_kind
from llmledger.paths import Home

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "opencost_allocation.json"


def test_parse_two_windows_with_skips_and_quarantine():
    """Two step windows, 9 allocations: 4 in the first, 5 in the second.

    Skipped (2): ``__idle__`` (opencost_idle) and coredns with gpuHours 0 (no_gpu_hours).
    Quarantined (2): pod-x (gpuHours "lots"), pod-y (ends 11:10 before it starts 11:40).
    Loaded (5): pretrain-0 twice (8.0 then 4.0 GPU-hours), scorer (3.0), jupyter (0.5),
    ``__unallocated__`` (1.5). 9 = 5 + 2 + 2.
    """
    parsed = opencost.parse(FIXTURE.read_text())
    assert (parsed.rows_read, len(parsed.records), len(parsed.rejected), parsed.rows_skipped) == (
        9,
        5,
        2,
        2,
    )
    assert dict(parsed.skip_reasons) == {"opencost_idle": 1, "no_gpu_hours": 1}
    rows = {(r.values["allocation_name"], r.values["window_start"].hour): r for r in parsed.records}
    assert sorted(rows) == [
        ("__unallocated__", 11),
        ("data-filter/scorer-7f9c", 10),
        ("notebooks/jupyter-alice", 11),
        ("train-gen3/pretrain-0", 10),
        ("train-gen3/pretrain-0", 11),
    ]
    first = rows[("train-gen3/pretrain-0", 10)]
    assert first.line == 1  # ordinal of the allocation in the file
    values = first.values
    assert (values["cluster"], values["namespace"], values["pod"]) == (
        "k1",
        "train-gen3",
        "pretrain-0",
    )
    assert values["controller_kind"] == "job"
    assert json.loads(values["labels"]) == {
        "activity": "training.pretrain",
        "app": "megatron",
        "model_generation": "gen3",
    }
    assert values["annotations"] == "{}"
    assert values["gpu_hours"] == Decimal("8.0000000000")
    assert values["gpu_count"] == Decimal(8) and values["gpu_cost"] == Decimal("19.6")
    assert values["window_end"] == datetime(2026, 1, 5, 11, 0)
    second = rows[("train-gen3/pretrain-0", 11)].values
    assert (second["start_time"], second["end_time"]) == (
        datetime(2026, 1, 5, 11, 0),
        datetime(2026, 1, 5, 11, 30),
    )
    scorer = rows[("data-filter/scorer-7f9c", 10)].values
    assert scorer["start_time"] == datetime(2026, 1, 5, 10, 15)
    assert json.loads(scorer["annotations"]) == {"llmledger.io/note": "quality scorer"}
    jupyter = rows[("notebooks/jupyter-alice", 11)]
    assert jupyter.line == 6 and jupyter.values["gpu_hours"] == Decimal("0.5")
    unallocated = rows[("__unallocated__", 11)].values
    assert unallocated["pod"] is None and unallocated["labels"] == "{}"

    bad = {r.line: r for r in parsed.rejected}
    assert sorted(bad) == [8, 9]
    assert (bad[8].reason_code, bad[8].column, bad[8].value) == ("bad_number", "gpuHours", '"lots"')
    assert "broken/pod-x" in bad[8].message and "broken/pod-x" in bad[8].raw_text
    assert (bad[9].reason_code, bad[9].column) == ("end_before_start", "end")
    assert "broken/pod-y" in bad[9].message


def test_numbers_are_read_as_decimals_not_floats():
    """0.1 + 0.2 GPU-hours through float would be 0.30000000000000004; here it is exact."""
    text = json.dumps(
        {
            "code": 200,
            "data": [
                {
                    "a": {
                        "properties": {"cluster": "k"},
                        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
                        "start": "2026-01-01T00:00:00Z",
                        "end": "2026-01-01T01:00:00Z",
                        "gpuHours": 0.30000000000000004,
                    }
                }
            ],
        }
    )
    (record,) = opencost.parse(text).records
    assert record.values["gpu_hours"] == Decimal("0.3000000000")
    assert record.values["allocation_name"] == "a"  # no "name": the set's key names it


@pytest.mark.parametrize(
    ("allocation", "reason", "column"),
    [
        (
            {"window": {}, "start": "x", "end": "x", "gpuHours": 1},
            "missing_value",
            "properties.cluster",
        ),
        (
            {"properties": {"cluster": "k"}, "start": "2026-01-01T00:00:00Z", "gpuHours": 1},
            "bad_value",
            "window",
        ),
        (
            {
                "properties": {"cluster": "k"},
                "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
                "start": "2026-01-01T00:00:00Z",
                "end": "2026-01-01T01:00:00Z",
            },
            "missing_value",
            "gpuHours",
        ),
        (
            {
                "properties": {"cluster": "k"},
                "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
                "start": "2026-01-01T00:00:00Z",
                "end": "2026-01-01T01:00:00Z",
                "gpuHours": -2,
            },
            "bad_number",
            "gpuHours",
        ),
        (
            {
                "properties": {"cluster": "k"},
                "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
                "start": "2026-01-01T00:30:00Z",
                "end": "2026-01-01T00:30:00Z",
                "gpuHours": 2,
            },
            "zero_duration",
            "end",
        ),
        (
            {
                "properties": {"cluster": "k", "labels": {"team": 7}},
                "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
                "start": "2026-01-01T00:00:00Z",
                "end": "2026-01-01T01:00:00Z",
                "gpuHours": 2,
            },
            "bad_value",
            "properties.labels",
        ),
        ("not an object", "bad_json", None),
    ],
)
def test_bad_allocations_are_quarantined_with_field(allocation, reason, column):
    parsed = opencost.parse(json.dumps({"code": 200, "data": [{"ns/pod": allocation}]}))
    assert (parsed.rows_read, len(parsed.records), parsed.rows_skipped) == (1, 0, 0)
    (rejected,) = parsed.rejected
    assert (rejected.reason_code, rejected.column) == (reason, column)
    assert rejected.message.startswith("allocation 'ns/pod'")


def test_error_response_and_non_json_are_file_rejections():
    with pytest.raises(FileRejected) as error:
        opencost.parse('{"code": 500, "message": "prometheus unreachable", "data": null}')
    assert error.value.reason_code == "opencost_error_response"
    with pytest.raises(FileRejected) as error:
        opencost.parse('{"code": 200, "data": [')
    assert error.value.reason_code == "malformed_json"


def test_detected_by_landing_suffix_and_by_content():
    assert kind_from_landing(Path("pipeline/k8s/allocation_2026-01-05.json")) == (
        "opencost_allocation"
    )
    assert kind_from_landing(Path("pipeline/k8s/allocation.json.gz")) == "opencost_allocation"
    assert kind_from_landing(Path("pipeline/runs.jsonl.gz")) == "run_manifest"
    assert sniff_kind(FIXTURE.read_text()) == "opencost_allocation"
    assert sniff_kind('{"code":200,"data":[{}]}') == "opencost_allocation"
    assert sniff_kind('{"run_id": "x"}\n') == "run_manifest"


def test_ingest_writes_raw_rows_quarantine_and_log(tmp_path: Path):
    home = Home.resolve(tmp_path / "home").ensure()
    (result,) = ingest.ingest_paths(home, [FIXTURE])
    assert result.source_file == "landing/pipeline/opencost_allocation.json"
    assert (result.kind, result.rows_read, result.rows_loaded) == ("opencost_allocation", 9, 5)
    assert (result.rows_quarantined, result.rows_skipped) == (2, 2)
    assert result.skip_reasons == {"opencost_idle": 1, "no_gpu_hours": 1}
    assert "skipped: 1 no_gpu_hours, 1 opencost_idle" in result.summary()
    table = pq.read_table(home.raw_dir("opencost_allocation") / f"{result.sha256}.parquet")
    assert table.column("_source_row").to_pylist() == [1, 2, 5, 6, 7]
    assert sum(table.column("gpu_hours").to_pylist()) == Decimal("17")
    quarantined = pq.read_table(home.quarantine_rows / f"{result.sha256}.parquet").to_pylist()
    assert [
        (q["_source_file"], q["_source_row"], q["column_name"], q["value"]) for q in quarantined
    ] == [
        ("landing/pipeline/opencost_allocation.json", 8, "gpuHours", '"lots"'),
        ("landing/pipeline/opencost_allocation.json", 9, "end", "2026-01-05T11:10:00Z"),
    ]
    # `--kind pipeline` names the folder; the content says it is OpenCost, not sacct.
    other = tmp_path / "again.json"
    other.write_text(FIXTURE.read_text().replace("gpu-node-2", "gpu-node-3"))
    (again,) = ingest.ingest_paths(home, [other], kind="pipeline")
    assert (again.kind, again.rows_loaded) == ("opencost_allocation", 5)
