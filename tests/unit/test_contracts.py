"""Contracts that live in two places stay equal: taxonomy vs dbt seed, raw schema vs DDL,
saved queries vs their metadata."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml

from llmledger import raw_schema, taxonomy

REPO = Path(__file__).resolve().parents[2]


def test_taxonomy_matches_dbt_seed():
    with open(REPO / "dbt" / "seeds" / "activities.csv", newline="") as handle:
        seed = list(csv.DictReader(handle))
    assert tuple(row["activity"] for row in seed) == taxonomy.ACTIVITIES
    taggable = tuple(row["activity"] for row in seed if row["taggable"] == "true")
    assert taggable == taxonomy.TAGGABLE_ACTIVITIES
    for row in seed:
        assert row["activity_group"] == taxonomy.activity_group(row["activity"])


def test_raw_ddl_matches_raw_schema(tmp_path):
    con = duckdb.connect()
    con.execute((REPO / "sql" / "raw_ddl.sql").read_text())
    tables = {
        "raw_focus": raw_schema.FOCUS,
        "raw_annotation_invoice": raw_schema.ANNOTATION_INVOICE,
        "raw_slurm_job": raw_schema.SLURM_JOB,
        "raw_run_manifest": raw_schema.RUN_MANIFEST,
        "raw_opencost_allocation": raw_schema.OPENCOST_ALLOCATION,
        "raw_ingest_log": raw_schema.INGEST_LOG,
        "quarantine_row": raw_schema.QUARANTINE_ROW,
    }
    for table, schema in tables.items():
        path = tmp_path / f"{table}.parquet"
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist([], schema=schema), path)
        from_parquet = con.execute(f"describe select * from read_parquet('{path}')").fetchall()
        from_ddl = con.execute(f"describe {table}").fetchall()
        assert [(c[0], c[1]) for c in from_ddl] == [(c[0], c[1]) for c in from_parquet], table
        not_null_ddl = {c[0] for c in from_ddl if c[2] == "NO"}
        not_null_schema = {f.name for f in schema if not f.nullable}
        assert not_null_ddl == not_null_schema, table


def test_every_saved_query_has_metadata():
    queries = sorted((REPO / "sql" / "queries").glob("*.sql"))
    assert queries
    for query in queries:
        meta = yaml.safe_load(query.with_suffix(".yml").read_text())
        assert {"description", "answers", "owner", "parameters", "marts"} <= set(meta), query.name
