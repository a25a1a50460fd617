"""Writing the raw layer: every file appears whole or not at all.

Each file is written under a hidden temporary name in its final folder (dbt globs
``*.parquet``, so the temporary never matches), flushed to disk, then renamed over the final
name. The ingest-log row is written last by the caller: its presence means "done".
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from llmledger.paths import Home
from llmledger.raw_schema import INGEST_LOG


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` atomically."""
    _atomic(path, lambda tmp: pq.write_table(table, tmp))


def write_json(document: dict[str, Any], path: Path) -> None:
    """Write ``document`` as JSON to ``path`` atomically."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def copy_file(source: Path, target: Path) -> None:
    """Copy the bytes of ``source`` to ``target`` atomically."""
    data = source.read_bytes()
    _atomic(target, lambda tmp: tmp.write_bytes(data))


def log_path(home: Home, sha256: str) -> Path:
    return home.ingest_log / f"{sha256}.parquet"


def read_log(home: Home, sha256: str) -> dict[str, Any] | None:
    """The ingest-log row of a file, or None if it was never (fully) ingested."""
    path = log_path(home, sha256)
    if not path.exists():
        return None
    return pq.read_table(path).to_pylist()[0]


def write_log(home: Home, row: dict[str, Any]) -> None:
    """Write the one-row ingest log of a file (the idempotency marker).

    A log file written again (its file re-ingested with another outcome) gets a modification
    time in a later second than the one it replaces: DuckDB's ``read_blob`` gives times to the
    second, and ``stg_ingest__files`` reads a log file again only when its time or its size
    changed, so a rewrite of the same size within the same second would otherwise go unread.
    """
    path = log_path(home, row["source_sha256"])
    table = pa.Table.from_pylist([row], schema=INGEST_LOG)
    previous_ns = path.stat().st_mtime_ns if path.exists() else None

    def write(tmp: Path) -> None:
        pq.write_table(table, tmp)
        if previous_ns is not None:
            second = 1_000_000_000
            stamp = max(time.time_ns(), (previous_ns // second + 1) * second)
            os.utime(tmp, ns=(stamp, stamp))

    _atomic(path, write)
