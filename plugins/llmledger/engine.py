"""Warehouse engine settings from ``config/warehouse.yaml``: DuckDB limits and the lookback.

Every DuckDB this package opens for heavy work (dbt, the fast FOCUS ingest path) runs under
the same limits, so a large lab cannot take the machine's memory: DuckDB spills to
``temp_directory`` instead. The file is optional; absent keys take the defaults below.

```yaml
memory_limit: 6GiB          # DuckDB's memory_limit (KB/MB/GB/TB, KiB/MiB/GiB/TiB)
threads: null               # worker threads; null = one per core
temp_directory: tmp/duckdb  # spill folder, relative to the home (or absolute)
lookback_days: 2            # incremental builds recompute this many whole days more
```
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmledger.paths import Home

if TYPE_CHECKING:
    import duckdb

FILE = "warehouse.yaml"
DEFAULTS: dict[str, Any] = {
    "memory_limit": "6GiB",
    "threads": None,
    "temp_directory": "tmp/duckdb",
    "lookback_days": 2,
}
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


@dataclass(frozen=True)
class EngineSettings:
    """Validated DuckDB limits of one home."""

    memory_limit: str
    threads: int | None
    temp_directory: Path
    lookback_days: int = 2

    def as_config(self) -> dict[str, str]:
        """``duckdb.connect(config=...)`` / dbt-duckdb ``settings`` entries."""
        config = {"memory_limit": self.memory_limit, "temp_directory": str(self.temp_directory)}
        if self.threads is not None:
            config["threads"] = str(self.threads)
        return config


# This process's share of the limits: ingest workers running side by side split them.
_SHARE = {"parts": 1}


def share(parts: int) -> None:
    """From now on this process gets 1/``parts`` of the configured memory and threads (one
    of ``parts`` ingest workers running at once)."""
    _SHARE["parts"] = max(1, int(parts))


def load(home: Home) -> EngineSettings:
    """The settings of ``home`` (defaults where ``config/warehouse.yaml`` is silent).

    Raises ``llmledger.config.ConfigError`` naming the file, the key, the value and what was
    expected.
    """
    path = home.config / FILE
    try:
        stat = path.stat()
        state: tuple[int, int] | None = (stat.st_size, stat.st_mtime_ns)
    except FileNotFoundError:
        state = None
    # Read once per file state: the fast ingest path connects once per file (thousands a year).
    return _load(str(home.root), state)


@functools.lru_cache(maxsize=16)
def _load(root: str, _state: tuple[int, int] | None) -> EngineSettings:
    import yaml

    from llmledger.config import ConfigError

    home = Home(Path(root))
    path = home.config / FILE
    raw: Any = {}
    if path.exists():
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config/{FILE}: expected a mapping of keys to values, got {raw!r}")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            f"config/{FILE}: unknown key {unknown[0]!r}; expected one of {', '.join(DEFAULTS)}"
        )
    values = {**DEFAULTS, **raw}
    memory = str(values["memory_limit"]).strip()
    if not _MEMORY.match(memory):
        raise ConfigError(
            f"config/{FILE}: memory_limit = {values['memory_limit']!r}; expected a size such "
            "as 6GiB or 4000MB"
        )
    threads = values["threads"]
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(
            f"config/{FILE}: threads = {threads!r}; expected a whole number >= 1, or null"
        )
    temp = values["temp_directory"]
    if not isinstance(temp, str) or not temp.strip():
        raise ConfigError(f"config/{FILE}: temp_directory = {temp!r}; expected a folder path")
    folder = Path(temp).expanduser()
    lookback = values["lookback_days"]
    if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 0:
        raise ConfigError(
            f"config/{FILE}: lookback_days = {lookback!r}; expected a whole number >= 0"
        )
    return EngineSettings(
        memory, threads, folder if folder.is_absolute() else home.root / folder, lookback
    )


def sql_string(value: object) -> str:
    """``value`` as a SQL string literal (quotes doubled): for what DuckDB takes only as a
    literal, such as a COPY target or a file list, never for data (data goes as parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values: Iterable[object]) -> str:
    """``values`` as a SQL list of string literals (:func:`sql_string`), e.g. the files of a
    ``read_parquet``."""
    return "[" + ", ".join(sql_string(value) for value in values) + "]"


def env(home: Home) -> dict[str, str]:
    """Environment variables ``dbt/profiles.yml`` reads the settings from."""
    settings = load(home)
    settings.temp_directory.mkdir(parents=True, exist_ok=True)
    return {
        "LLMLEDGER_DUCKDB_MEMORY_LIMIT": settings.memory_limit,
        "LLMLEDGER_DUCKDB_TEMP_DIRECTORY": str(settings.temp_directory),
        # A profile cannot leave a setting out, so "null" is spelled as one thread per core.
        "LLMLEDGER_DUCKDB_THREADS": str(settings.threads or os.cpu_count() or 1),
    }


def connect(home: Home, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection under the home's limits (this process's share of them)."""
    import duckdb

    settings = load(home)
    settings.temp_directory.mkdir(parents=True, exist_ok=True)
    config = settings.as_config()
    parts = _SHARE["parts"]
    if parts > 1:
        config["memory_limit"] = f"{_bytes(settings.memory_limit) // parts // 2**20}MiB"
        config["threads"] = str(max(1, (settings.threads or os.cpu_count() or 1) // parts))
    return duckdb.connect(database, config=config)


_UNITS = {
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip


def _bytes(size: str) -> int:
    """``6GiB`` -> 6442450944 (a size :func:`load` accepted)."""
    match = re.match(r"^(\d+(?:\.\d+)?)\s*([KMGT]i?B)$", size)
    assert match is not None, size
    return int(float(match.group(1)) * _UNITS[match.group(2)])
