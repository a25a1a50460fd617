"""The working folder ("home") of LLM Ledger and everything that lives in it.

Layout (``--home DIR`` or ``LLMLEDGER_HOME``; default ``./.llmledger``)::

    config/            reference data a lab maintains by hand (validated on load)
    landing/           files as they arrive; never modified or deleted by the system
      billing/ invoices/<vendor>/ pipeline/
    raw/<kind>/        one Parquet file per source file, named <sha256>.parquet
    raw/_ingest_log/   one Parquet row per ingested source file (the idempotency marker)
    quarantine/rows/   rejected rows, one Parquet file per source file, with reasons
    quarantine/files/  whole files that could not be read, as <sha256>.json with the reason
    staged/config/     validated config as typed Parquet, rewritten on every build (dbt reads it)
    warehouse.duckdb   written by dbt only
    reports/           report output
    airflow/           embedded Airflow home (SQLite metadata DB) used by `llmledger run`
    periods/           closed quarters: <quarter>/ snapshots, periods_log.jsonl (llmledger.periods)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".llmledger"
# opencost_allocation: OpenCost allocation JSON (Kubernetes pods).
RAW_KINDS = ("focus", "annotation_invoice", "slurm_job", "run_manifest", "opencost_allocation")
LANDING_FOLDERS = ("billing", "invoices", "pipeline")
# The zero-row file of each raw folder that pins its columns (llmledger.raw_schema).
SCHEMA_FILE = "_schema.parquet"


def parquet_files(folder: Path) -> list[Path]:
    """The Parquet files of a raw folder (raw/<kind>/, the ingest log, the quarantine's rows)
    that hold rows: every ``*.parquet`` but the schema file, sorted."""
    return sorted(p for p in folder.glob("*.parquet") if p.name != SCHEMA_FILE)


@dataclass(frozen=True)
class Home:
    """Paths inside one LLM Ledger working folder."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Home:
        """The home named explicitly, else ``$LLMLEDGER_HOME``, else ``./.llmledger``."""
        chosen = home or os.environ.get("LLMLEDGER_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def ingest_log(self) -> Path:
        return self.raw / "_ingest_log"

    @property
    def quarantine_rows(self) -> Path:
        return self.root / "quarantine" / "rows"

    @property
    def quarantine_files(self) -> Path:
        return self.root / "quarantine" / "files"

    @property
    def staged_config(self) -> Path:
        return self.root / "staged" / "config"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    def raw_dir(self, kind: str) -> Path:
        if kind not in RAW_KINDS:
            raise ValueError(f"unknown raw kind {kind!r}; expected one of {', '.join(RAW_KINDS)}")
        return self.raw / kind

    def ensure(self) -> Home:
        """Create the folder skeleton and the zero-row schema files dbt's sources glob over.

        Idempotent. A fresh home therefore builds: every raw source has at least its
        ``_schema.parquet`` (no rows, the full column set), and config gets empty but valid
        files if it has none.
        """
        from llmledger import config as config_mod
        from llmledger.raw_schema import write_schema_files

        for sub in LANDING_FOLDERS:
            (self.landing / sub).mkdir(parents=True, exist_ok=True)
        for path in (self.quarantine_rows, self.quarantine_files, self.reports, self.staged_config):
            path.mkdir(parents=True, exist_ok=True)
        write_schema_files(self)
        config_mod.write_empty(self)
        return self
