"""Ingest: source files in ``landing/`` -> immutable raw Parquet, quarantine and ingest log.

Parsers: FOCUS 1.0-1.4 billing CSV (:mod:`.focus`), annotation-vendor invoice CSV
(:mod:`.vendor_csv`), Slurm ``sacct --parsable2`` (:mod:`.sacct`). Kind detection in
:mod:`.detect`, atomic writes in :mod:`.writer`, the per-file flow in :mod:`.pipeline`.
"""

from llmledger.ingest.pipeline import (
    IngestResult,
    UnsafePath,
    confine_to_landing,
    first_of_each_content,
    ingest_file,
    ingest_paths,
    landing_hashes,
    pending_files,
)

__all__ = [
    "IngestResult",
    "UnsafePath",
    "confine_to_landing",
    "first_of_each_content",
    "ingest_file",
    "ingest_paths",
    "landing_hashes",
    "pending_files",
]
