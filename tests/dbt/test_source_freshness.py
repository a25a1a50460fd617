"""Source freshness through dbt: one raw Parquet row per kind with a chosen `_ingested_at`
(what ingest stamps on every row), measured by `dbt source freshness`, so the real _sources.yml,
the --vars plumbing and the classification are exercised together (about 10 s per dbt run)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from llmledger import freshness
from llmledger.paths import Home


def _home(tmp_path: Path, yaml_text: str) -> Home:
    home = Home(tmp_path / "home")
    home.config.mkdir(parents=True)
    (home.config / freshness.FRESHNESS_FILE).write_text(yaml_text)
    return home.ensure()


def _ingested(home: Home, kind: str, hours_ago: float) -> None:
    """One raw row of ``kind`` stamped as ingested ``hours_ago`` (nulls elsewhere)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Nullable: only the lineage stamp matters to freshness.
    schema = pa.schema(
        f.with_nullable(True) for f in pq.read_schema(home.raw / kind / "_schema.parquet")
    )
    stamp = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=hours_ago)
    columns = [
        pa.array([stamp if field.name == "_ingested_at" else None], type=field.type)
        for field in schema
    ]
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), home.raw / kind / "old.parquet")


def test_stale_source_errors_late_source_warns_through_dbt(tmp_path):
    """focus last ingested 100 h ago (error after 72 h) -> error; slurm_job 40 h ago (warn after
    36 h, error after 72 h) -> warn; annotation_invoice never -> warn (never loaded);
    run_manifest switched off -> not checked."""
    home = _home(tmp_path, "run_manifest: off\n")
    _ingested(home, "focus", 100)
    _ingested(home, "slurm_job", 40)
    with pytest.raises(freshness.FreshnessFailed) as err:
        freshness.check_freshness(home)
    result = err.value.result
    status = {s.kind: s.status for s in result.sources}
    assert status == {"focus": "error", "annotation_invoice": "never loaded", "slurm_job": "warn"}
    assert err.value.failing_sources == ["raw.focus"]
    message = str(err.value)
    assert message.startswith("source freshness failed (1 stale source(s)):")
    assert re.search(
        r"source raw\.focus: ERROR: last focus file ingested \d{4}-\d\d-\d\d \d\d:\d\d UTC, "
        r"100\.\d h ago \(warn after 36 h, error after 72 h\)",
        message,
    ), message
    assert "slurm_job" not in message
    [slurm] = [s for s in result.warnings if s.kind == "slurm_job"]
    assert 40 <= slurm.age_hours < 41


def test_fresh_sources_pass_and_thresholds_come_from_config(tmp_path):
    """The same 40-hour-old slurm_job passes once the config allows 48 hours."""
    home = _home(
        tmp_path,
        "slurm_job: {warn_after_hours: 48, error_after_hours: 96}\n"
        "focus: off\nannotation_invoice: off\nrun_manifest: off\n",
    )
    _ingested(home, "slurm_job", 40)
    result = freshness.check_freshness(home)
    assert [(s.kind, s.status) for s in result.sources] == [("slurm_job", "pass")]
    assert result.errors == [] and result.warnings == []
