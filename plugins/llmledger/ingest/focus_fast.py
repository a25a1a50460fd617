"""FOCUS CSV through DuckDB's CSV reader: the same raw rows as :mod:`.focus`, at scale.

The Python parser converts a row in ~40 us (Decimal, datetime, JSON per value), so a year of
a large lab (18 million hourly rows) would take hours. This path reads the file with DuckDB
and converts in SQL every value whose text has one canonical shape, where the SQL conversion
is exact and equal to the Python one:

- text without surrounding white space (``null`` in any case is no value, as in Python);
- timestamps ``YYYY-MM-DD[T ]HH:MM:SS`` with ``Z``, ``+00:00`` or no offset (naive is UTC);
- decimals ``-?digits[.up to 10 digits]`` with at most 28 integer digits (exact in
  DECIMAL(38, 10));
- ``Tags`` and the ``x_`` columns are converted in Python once per distinct value (a file has
  a handful), so their canonical JSON is :mod:`.focus`'s own.

A row with any other value (a US date, ``$1,000.00``, white space, a missing required column,
a bad tag) goes through :class:`.focus.Layout` unchanged, so its value or its quarantine reason,
column, message and raw text are exactly what the Python path gives. A file is only taken
when a cheap check says line numbers are trustworthy (no blank line, no multi-line record, no
carriage return, no byte-order mark, no NUL, plain CSV with a FOCUS header that no billing
mapping claims, every record with the header's field count); otherwise :func:`try_parse`
returns None and the caller uses the Python parser for the whole file.
"""

from __future__ import annotations

import contextlib
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from llmledger.ingest import billing, focus, tabular
from llmledger.ingest.common import FileRejected, Rejected, RowError, clean, fit_fields
from llmledger.paths import Home
from llmledger.raw_schema import FOCUS

PARSER = focus.PARSER
# Below this many rows the Python parser is as fast as starting DuckDB.
MIN_ROWS = 2_000
_MAX_DISTINCT_JSON = 10_000

_TS_SHAPE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(Z|\+00:00)?$"
_DECIMAL_SHAPE = r"^-?\d{1,28}(\.\d{1,10})?$"
# White space Python's str.strip() removes, as an RE2 class.
_SPACE = r"[\s\p{Z}\x{1c}-\x{1f}\x{85}]"


@dataclass
class FastParsed:
    """Rows of one file: the loaded ones as a raw-schema table (lineage included)."""

    table: pa.Table
    rejected: list[Rejected] = field(default_factory=list)
    rows_read: int = 0
    parser: str = PARSER
    lines: list[str] | None = None  # physical lines, read only when a row needs its raw text

    def raw_text(self, data: bytes, line: int) -> str:
        if self.lines is None:
            self.lines = data.decode("utf-8").split("\n")
        return self.lines[line - 1]


def _eligible(home: Home, path: Path, data: bytes) -> list[str] | None:
    """The header names if the file can take the fast path, else None (cheap checks only)."""
    if data[:3] == b"\xef\xbb\xbf" or tabular.is_parquet(data) or data.startswith(b"\x1f\x8b"):
        return None
    if b"\r" in data or b"\n\n" in data or b"\x00" in data or data.lstrip()[:1] == b"{":
        return None
    if data.count(b"\n") < MIN_ROWS:
        return None
    end = data.find(b"\n")  # the header line, without copying the rest of the file
    first = data if end < 0 else data[:end]
    try:
        names = next(csv.reader([first.decode("utf-8")]))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None
    if not focus.recognises(names):
        return None
    # The same routing as billing.parse: a mapping that claims the header wins over FOCUS.
    hint = billing._folder_hint(home, path)
    if any(m.matches(names) for m in billing.load_mappings(home) if m.name == hint):
        return None
    try:
        focus.Layout(names)
    except FileRejected:
        return None  # the Python path rejects the file with its own reason
    return names


def _text_sql(ref: str) -> str:
    return f"case when lower({ref}) = 'null' then null else {ref} end"


def _simple_sql(ref: str, column: str) -> str:
    """SQL: the value is absent or in the one shape the SQL conversion handles exactly."""
    absent = f"({ref} is null or lower({ref}) = 'null')"
    if column in focus.TIMESTAMPS:
        shape = (
            f"(regexp_matches({ref}, '{_TS_SHAPE}') "
            f"and try_strptime(left({ref}, 19), ['%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S']) "
            "is not null)"
        )
    elif column in focus.NUMBERS:
        shape = f"regexp_matches({ref}, '{_DECIMAL_SHAPE}')"
    else:
        shape = f"not regexp_matches({ref}, '^{_SPACE}|{_SPACE}$')"
    return f"({absent} or {shape})"


def _convert_sql(ref: str, column: str) -> str:
    value = _text_sql(ref)
    if column in focus.TIMESTAMPS:
        return (
            f"try_strptime(left({value}, 19), ['%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S'])"
        )
    if column in focus.NUMBERS:
        return f"try_cast({value} as decimal(38, 10))"
    return value


def try_parse(
    home: Home, path: Path, data: bytes, source_file: str, sha: str, ingested_at: Any
) -> FastParsed | None:
    """Parse a FOCUS CSV file with DuckDB, or None when the file must take the Python path."""
    names = _eligible(home, path, data)
    if names is None:
        return None
    import duckdb

    from llmledger.engine import connect

    layout = focus.Layout(names)
    columns = {f"c{i}": "VARCHAR" for i in range(len(names))}
    con = connect(home)
    try:
        try:
            con.execute(
                "create temp table src as select row_number() over () + 1 as _line, * "
                "from read_csv(?, header = true, auto_detect = false, columns = ?, delim = ',', "
                "quote = '\"', escape = '\"', strict_mode = true, null_padding = false)",
                [str(path), columns],
            )
        except duckdb.Error:
            return None  # ragged rows, bad UTF-8, ...: the Python parser says which line
        rows_read = con.execute("select count(*) from src").fetchall()[0][0]
        if rows_read != data.count(b"\n") - (1 if data.endswith(b"\n") else 0):
            return None  # a record spans lines: line numbers would not be physical lines
        return _convert(con, layout, data, rows_read, source_file, sha, ingested_at)
    finally:
        con.close()


def _json_maps(con: Any, layout: focus.Layout) -> bool:
    """Tables ``tag_map`` / ``x_map``: canonical tags and x_columns JSON per distinct raw value
    (a handful per file), computed by :mod:`.focus` itself. False if there are too many."""
    tag_sources = layout.sources.get("tags", [])[:1]  # focus takes the first Tags column
    con.execute("create temp table tag_map (raw varchar, tags varchar)")
    if tag_sources:
        position, name = tag_sources[0]
        distinct = con.execute(f"select distinct c{position} from src").fetchall()
        if len(distinct) > _MAX_DISTINCT_JSON:
            return False
        rows = []
        for (raw,) in distinct:
            # A bad tag is left out: its rows take the Python path and are quarantined there.
            with contextlib.suppress(RowError):
                rows.append([raw, focus._tags(raw, name)])
        if rows:
            con.executemany("insert into tag_map values (?, ?)", rows)
    refs = [f"c{p}" for p, _ in layout.x_columns]
    con.execute(
        "create temp table x_map ("
        + "".join(f"{ref} varchar, " for ref in refs)
        + "x varchar)"
    )
    if refs:
        distinct = con.execute(f"select distinct {', '.join(refs)} from src").fetchall()
        if len(distinct) > _MAX_DISTINCT_JSON:
            return False
        rows = []
        for values in distinct:
            found = {
                focus._CANONICAL_X.get(focus._key(name), name): clean(raw)
                for (_p, name), raw in zip(layout.x_columns, values, strict=True)
            }
            try:
                focus._check_extras(found)
            except RowError:
                continue
            rows.append([*values, json.dumps(found, ensure_ascii=False, separators=(",", ":"))])
        if rows:
            marks = ", ".join("?" for _ in range(len(refs) + 1))
            con.executemany(f"insert into x_map values ({marks})", rows)
    return True


def _convert(
    con: Any,
    layout: focus.Layout,
    data: bytes,
    rows_read: int,
    source_file: str,
    sha: str,
    ingested_at: Any,
) -> FastParsed | None:
    if not _json_maps(con, layout):
        return None
    tag_sources = layout.sources.get("tags", [])[:1]
    x_refs = [f"c{p}" for p, _ in layout.x_columns]
    simple, selected = [], []
    for column in focus.ALIASES:
        if column == "tags":
            continue
        refs = [f"src.c{p}" for p, _ in layout.sources.get(column, [])]
        simple.extend(_simple_sql(ref, column) for ref in refs)
        converted = [_convert_sql(ref, column) for ref in refs]
        target = FOCUS.field(column).type
        if pa.types.is_timestamp(target):
            cast_to = "timestamp"
        elif pa.types.is_decimal(target):
            cast_to = "decimal(38, 10)"
        else:
            cast_to = "varchar"
        if len(converted) > 1:
            expr = f"coalesce({', '.join(converted)})"
        else:
            expr = converted[0] if converted else "null"
        selected.append(f"cast({expr} as {cast_to}) as {column}")
    checks = list(simple)
    joins = ""
    if tag_sources:
        checks.append("tag_map.tags is not null")
        joins += f" left join tag_map on tag_map.raw is not distinct from src.c{tag_sources[0][0]}"
        tags = "tag_map.tags"
    else:
        tags = "'{}'"
    if x_refs:
        checks.append("x_map.x is not null")
        joins += " left join x_map on " + " and ".join(
            f"x_map.{ref} is not distinct from src.{ref}" for ref in x_refs
        )
        x_columns = "x_map.x"
    else:
        x_columns = "'{}'"
    # One pass converts every value and says whether SQL could (the shape checks read the
    # text); a row is fast when it could and its required values are there once converted.
    con.execute(f"""
        create temp table converted as
        select
            src._line, {", ".join(selected)}, {tags} as tags, {x_columns} as x_columns,
            ({" and ".join(checks)}) is true as _shapes_ok
        from src{joins}
    """)
    fast = " and ".join(["_shapes_ok", *(f"{c} is not null" for c in focus.REQUIRED)])
    order = ", ".join(f.name for f in FOCUS if not f.name.startswith("_"))
    fast_table = con.sql(
        f"select {order}, $file::varchar as _source_file, $sha::varchar as _source_sha256, "
        "_line::bigint as _source_row, $at::timestamp as _ingested_at "
        f"from converted where {fast}",
        params={"file": source_file, "sha": sha, "at": ingested_at},
    ).to_arrow_table()
    # In file order, as the Python path writes them. DuckDB usually keeps it through the
    # joins; checking costs a pass over one column, sorting wide rows costs seconds.
    lines = fast_table.column("_source_row")
    if len(lines) > 1 and not pc.all(pc.less(lines[:-1], lines[1:])).as_py():
        fast_table = fast_table.sort_by("_source_row")
    slow = [
        line
        for (line,) in con.execute(
            f"select _line from converted where not ({fast}) order by _line"
        ).fetchall()
    ]
    parsed = FastParsed(fast_table.cast(FOCUS), rows_read=rows_read)
    if slow:
        parsed.table = _merge_python_rows(parsed, layout, data, slow, source_file, sha, ingested_at)
    return parsed


def _merge_python_rows(
    parsed: FastParsed,
    layout: focus.Layout,
    data: bytes,
    slow: list[int],
    source_file: str,
    sha: str,
    ingested_at: Any,
) -> pa.Table:
    """Rows SQL did not convert, through the Python row parser (values or quarantine)."""
    rows = []
    for line in slow:
        raw = parsed.raw_text(data, line)
        fields = next(csv.reader([raw]))
        try:
            values = layout.row(fit_fields(fields, layout.width))  # type: ignore[arg-type]
        except RowError as err:
            parsed.rejected.append(Rejected.from_error(line, raw, err))
            continue
        rows.append(
            {**values, "_source_file": source_file, "_source_sha256": sha,
             "_source_row": line, "_ingested_at": ingested_at}
        )  # fmt: skip
    if not rows:
        return parsed.table
    merged = pa.concat_tables([parsed.table, pa.Table.from_pylist(rows, schema=FOCUS)])
    return merged.sort_by("_source_row")
