"""Schemas of the raw layer: the contract between ingest (writes) and dbt sources (reads).

Every raw kind is a folder of Parquet files, one per source file, all with exactly the schema
below. Money and quantities are DECIMAL(38, 10); timestamps are naive and in UTC; text that a
source may omit is nullable. ``sql/raw_ddl.sql`` shows the same tables as DuckDB DDL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from llmledger import paths

if TYPE_CHECKING:
    from llmledger.paths import Home

MONEY = pa.decimal128(38, 10)
QTY = pa.decimal128(38, 10)
TS = pa.timestamp("us")

LINEAGE = [
    pa.field("_source_file", pa.string(), nullable=False),
    pa.field("_source_sha256", pa.string(), nullable=False),
    pa.field("_source_row", pa.int64(), nullable=False),
    pa.field("_ingested_at", TS, nullable=False),
]

# One row per FOCUS billing row. Column names are the FOCUS 1.x names in snake_case.
FOCUS = pa.schema(
    [
        pa.field("billing_account_id", pa.string()),
        pa.field("billing_period_start", TS),
        pa.field("billing_period_end", TS),
        pa.field("charge_period_start", TS),
        pa.field("charge_period_end", TS),
        pa.field("provider", pa.string()),
        pa.field("publisher", pa.string()),
        pa.field("invoice_issuer", pa.string()),
        pa.field("invoice_id", pa.string()),
        pa.field("resource_id", pa.string()),
        pa.field("resource_name", pa.string()),
        pa.field("sku_id", pa.string()),
        pa.field("service_name", pa.string()),
        pa.field("region", pa.string()),
        pa.field("charge_category", pa.string()),
        pa.field("charge_class", pa.string()),
        pa.field("charge_description", pa.string()),
        pa.field("pricing_unit", pa.string()),
        pa.field("pricing_quantity", QTY),
        pa.field("consumed_unit", pa.string()),
        pa.field("consumed_quantity", QTY),
        pa.field("billed_cost", MONEY),
        pa.field("effective_cost", MONEY),
        pa.field("list_cost", MONEY),
        pa.field("contracted_cost", MONEY),
        pa.field("billing_currency", pa.string()),
        pa.field("commitment_discount_id", pa.string()),
        pa.field("commitment_discount_category", pa.string()),
        pa.field("commitment_discount_status", pa.string()),
        pa.field("tags", pa.string()),  # JSON object text, '{}' when the row has none
        pa.field("x_columns", pa.string()),  # JSON object of provider x_ columns, '{}' if none
        *LINEAGE,
    ]
)

# One row per annotation-vendor invoice line. amount = quantity*unit_price + platform_fee
# - discount + tax - credit, negative for credits, discounts and credit notes.
ANNOTATION_INVOICE = pa.schema(
    [
        pa.field("vendor", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("invoice_date", pa.date32()),
        pa.field("line_id", pa.string(), nullable=False),
        pa.field("project_code", pa.string()),
        pa.field("description", pa.string()),
        pa.field("unit_type", pa.string()),
        pa.field("quantity", QTY),
        pa.field("unit_price", MONEY),
        pa.field("platform_fee", MONEY),
        pa.field("credit", MONEY),
        pa.field("amount", MONEY),
        pa.field("currency", pa.string()),
        pa.field("service_period_start", pa.date32()),
        pa.field("service_period_end", pa.date32()),
        # Added with per-vendor mappings (issue 5); null in files ingested before them.
        pa.field("line_kind", pa.string()),  # work|fee|tax|discount|credit|minimum
        pa.field("tax", MONEY),
        pa.field("discount", MONEY),
        pa.field("invoice_total", MONEY),  # total the invoice states for this line's currency
        pa.field("document_type", pa.string()),  # invoice | credit_note
        pa.field("references_invoice", pa.string()),  # the invoice a credit note corrects
        pa.field("revision", pa.int64()),  # declared revision; a higher one supersedes
        *LINEAGE,
    ]
)

# One row per Slurm job allocation (step lines are skipped at ingest: they repeat it).
SLURM_JOB = pa.schema(
    [
        pa.field("job_id", pa.string(), nullable=False),  # as sacct prints it, e.g. 1003_2
        pa.field("cluster", pa.string()),
        pa.field("partition", pa.string()),
        pa.field("account", pa.string()),
        pa.field("user_name", pa.string()),
        pa.field("job_name", pa.string()),
        pa.field("wckey", pa.string()),
        pa.field("comment", pa.string()),
        pa.field("state", pa.string()),
        pa.field("submit_time", TS),
        pa.field("start_time", TS),
        pa.field("end_time", TS),  # null while the job is still running
        pa.field("elapsed_seconds", pa.int64()),
        pa.field("gpus", pa.int64(), nullable=False),
        pa.field("gpu_type", pa.string()),
        pa.field("alloc_tres", pa.string()),
        *LINEAGE,
    ]
)

# One row per run-manifest record (JSONL; schema in llmledger.ingest.manifest and README).
RUN_MANIFEST = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("job_id", pa.string()),  # the scheduler's job id, if the run was a Slurm job
        pa.field("gpus", pa.int64(), nullable=False),
        pa.field("gpu_type", pa.string()),
        pa.field("start_time", TS, nullable=False),
        pa.field("end_time", TS),  # null while the run is going
        pa.field("stage", pa.string(), nullable=False),  # an activity, or rollout | ablation
        pa.field("model_generation", pa.string()),
        pa.field("dataset_produced", pa.string()),
        pa.field("datasets_consumed", pa.string()),  # JSON list of dataset versions
        pa.field("tokens", pa.int64()),
        pa.field("parameters", pa.int64()),
        pa.field("extra", pa.string()),  # JSON object of keys outside the schema
        *LINEAGE,
    ]
)

# One row per OpenCost allocation x window with GPU-hours (llmledger.ingest.opencost). `__idle__`
# and zero-GPU allocations are skipped at ingest (counted in the ingest log).
OPENCOST_ALLOCATION = pa.schema(
    [
        pa.field("allocation_name", pa.string(), nullable=False),  # the key OpenCost gives it
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("node", pa.string()),
        pa.field("namespace", pa.string()),
        pa.field("controller", pa.string()),
        pa.field("controller_kind", pa.string()),
        pa.field("pod", pa.string()),
        pa.field("container", pa.string()),
        pa.field("labels", pa.string(), nullable=False),  # JSON object text, '{}' if none
        pa.field("annotations", pa.string(), nullable=False),  # JSON object text, '{}' if none
        pa.field("window_start", TS, nullable=False),
        pa.field("window_end", TS, nullable=False),
        pa.field("start_time", TS, nullable=False),  # when it ran inside the window
        pa.field("end_time", TS, nullable=False),
        pa.field("minutes", QTY),
        pa.field("gpu_hours", QTY, nullable=False),
        pa.field("gpu_count", QTY),
        pa.field("gpu_cost", MONEY),  # OpenCost's own (list-price) estimate; not used to attribute
        pa.field("cpu_core_hours", QTY),
        pa.field("total_cost", MONEY),
        *LINEAGE,
    ]
)

RAW_SCHEMAS: dict[str, pa.Schema] = {
    "focus": FOCUS,
    "annotation_invoice": ANNOTATION_INVOICE,
    "slurm_job": SLURM_JOB,
    "run_manifest": RUN_MANIFEST,
    "opencost_allocation": OPENCOST_ALLOCATION,
}

# One row per ingested source file: written last, so its presence means "fully ingested".
INGEST_LOG = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_sha256", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # a RAW_KINDS entry
        pa.field(
            "parser", pa.string(), nullable=False
        ),  # e.g. focus_csv, vendor_csv, sacct_parsable2
        pa.field("status", pa.string(), nullable=False),  # loaded | file_quarantined
        pa.field("rows_read", pa.int64(), nullable=False),
        pa.field("rows_loaded", pa.int64(), nullable=False),
        pa.field("rows_quarantined", pa.int64(), nullable=False),
        pa.field("rows_skipped", pa.int64(), nullable=False),  # e.g. sacct step lines, by design
        pa.field("ingested_at", TS, nullable=False),
    ]
)

# One row per rejected source row.
QUARANTINE_ROW = pa.schema(
    [
        pa.field("_source_file", pa.string(), nullable=False),
        pa.field("_source_sha256", pa.string(), nullable=False),
        pa.field("_source_row", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("reason_code", pa.string(), nullable=False),
        pa.field("column_name", pa.string()),
        pa.field("value", pa.string()),
        pa.field("expected", pa.string()),
        pa.field("message", pa.string(), nullable=False),
        pa.field("raw_text", pa.string(), nullable=False),  # the original line, verbatim
        pa.field("_ingested_at", TS, nullable=False),
    ]
)

SCHEMA_FILE = paths.SCHEMA_FILE


def write_schema_files(home: Home) -> None:
    """Write a zero-row ``_schema.parquet`` in every raw folder (idempotent).

    dbt sources glob ``raw/<kind>/*.parquet``; the zero-row file makes the glob match on a
    fresh home and pins the column set, so a build on an empty home gives empty marts.
    """
    import pyarrow.parquet as pq

    targets = {home.raw_dir(kind): schema for kind, schema in RAW_SCHEMAS.items()}
    targets[home.ingest_log] = INGEST_LOG
    targets[home.quarantine_rows] = QUARANTINE_ROW
    for folder, schema in targets.items():
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SCHEMA_FILE
        if path.exists() and pq.read_schema(path).equals(schema, check_metadata=False):
            continue
        tmp = path.with_suffix(".tmp")
        pq.write_table(schema.empty_table(), tmp)
        tmp.replace(path)
