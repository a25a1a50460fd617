"""Slurm ``sacct --parsable2`` dumps -> ``raw_schema.SLURM_JOB`` rows.

Pipe separated, no quoting. The header is optional: without one, the column order of
docs/CONTRACTS.md is assumed; with one, columns may come in any order and extra columns are
ignored. Only job lines become rows: step lines (``123.batch``, ``123.extern``, ``123.0``,
``1003_2.batch``, ``55+1.0``) repeat their job's allocation and are counted as skipped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Any

from llmledger.ingest.common import (
    FileRejected,
    Parsed,
    Record,
    Rejected,
    RowError,
    clean,
    fit_fields,
    parse_timestamp,
    physical_lines,
    require,
    strip_terminator,
)

PARSER = "sacct_parsable2"
CONTRACT_COLUMNS = (
    "JobID", "JobName", "Partition", "Account", "User", "WCKey", "Comment",
    "Cluster", "State", "Submit", "Start", "End", "Elapsed", "AllocTRES",
)  # fmt: skip
RAW_COLUMN = {
    "jobid": "job_id",
    "jobname": "job_name",
    "partition": "partition",
    "account": "account",
    "user": "user_name",
    "wckey": "wckey",
    "comment": "comment",
    "cluster": "cluster",
    "state": "state",
    "submit": "submit_time",
    "start": "start_time",
    "end": "end_time",
    "elapsed": "elapsed_seconds",
    "alloctres": "alloc_tres",
}
TIMES = {"submit_time": "Submit", "start_time": "Start", "end_time": "End"}
# sacct prints these for a time that has not happened (pending start, running end).
NO_TIME = frozenset({"unknown", "none", "n/a"})

_JOB_ID = re.compile(r"^\d+(?:_(?:\d+|\[[^\]]*\]))?(?:\+\d+)?$")
_ELAPSED = re.compile(r"^(?:(?P<d>\d+)-)?(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+)$")
_GPU_TRES = re.compile(r"^gres/gpu(?::(?P<type>[^=]+))?=(?P<count>.*)$")


def looks_like_sacct(first_line: str) -> bool:
    """Whether a pipe-separated first line is an sacct header or a job line."""
    fields = strip_terminator(first_line).split("|")
    if "jobid" in {f.strip().lower() for f in fields}:
        return True
    return bool(re.match(r"^\d+", fields[0].strip())) and len(fields) in (
        len(CONTRACT_COLUMNS),
        len(CONTRACT_COLUMNS) + 1,
    )


def parse_elapsed(value: str | None) -> int | None:
    """Seconds from sacct's ``[DD-[HH:]]MM:SS``."""
    text = clean(value)
    if text is None:
        return None
    match = _ELAPSED.match(text)
    if not match:
        raise RowError("bad_elapsed", "Elapsed", value, "[DD-[HH:]]MM:SS such as 1-02:03:04")
    days, hours = int(match["d"] or 0), int(match["h"] or 0)
    return ((days * 24 + hours) * 60 + int(match["m"])) * 60 + int(match["s"])


def parse_gpus(value: str | None) -> tuple[int, str | None]:
    """GPU count and type from AllocTRES: ``gres/gpu=8`` and/or ``gres/gpu:h100=8``.

    Slurm lists a typed GPU both typed and untyped (``gres/gpu:a100=2,gres/gpu=2``): the
    untyped entry is the total; typed entries alone are summed.
    """
    text = clean(value)
    if text is None:
        return 0, None
    untyped: int | None = None
    typed: dict[str, int] = {}
    for item in text.split(","):
        match = _GPU_TRES.match(item.strip())
        if not match:
            continue
        if not match["count"].isdigit():
            raise RowError("bad_alloc_tres", "AllocTRES", value, "gres/gpu[:type]=<whole number>")
        count = int(match["count"])
        if match["type"]:
            typed[match["type"]] = typed.get(match["type"], 0) + count
        else:
            untyped = count
    gpu_type = ",".join(sorted(typed)) or None
    return (untyped if untyped is not None else sum(typed.values())), gpu_type


def _time(value: str | None, column: str, zone: tzinfo) -> datetime | None:
    text = clean(value)
    if text is None or text.lower() in NO_TIME:
        return None
    return parse_timestamp(text, column, assume=zone)


def parse(text: str, timezone: tzinfo = UTC) -> Parsed:
    """Parse an sacct dump whose naive times are in ``timezone`` (policy ``slurm_timezone``)."""
    lines = physical_lines(text)
    numbered = [
        (n, strip_terminator(line)) for n, line in enumerate(lines, start=1) if line.strip()
    ]
    if not numbered:
        raise FileRejected("empty_file", "the file has no lines")
    first_line, first = numbered[0]
    if not looks_like_sacct(first):
        raise FileRejected(
            "unrecognised_header",
            f"line {first_line} is neither an sacct header (JobID|...) nor a pipe-separated "
            f"job line with the {len(CONTRACT_COLUMNS)} columns {'|'.join(CONTRACT_COLUMNS)}",
        )
    names = [f.strip().lower() for f in first.split("|")]
    if "jobid" in names:
        numbered = numbered[1:]
    else:
        names = [c.lower() for c in CONTRACT_COLUMNS]
    positions = {RAW_COLUMN[n]: i for i, n in reversed(list(enumerate(names))) if n in RAW_COLUMN}

    parsed = Parsed(PARSER)
    for line, raw in numbered:
        parsed.rows_read += 1
        fields = raw.split("|")
        job_id = clean(fields[positions["job_id"]]) if positions["job_id"] < len(fields) else None
        if job_id and "." in job_id:
            parsed.rows_skipped += 1
            continue
        try:
            values = _row(fit_fields(fields, len(names)), positions, timezone)
            parsed.records.append(Record(line, raw, values))
        except RowError as err:
            parsed.rejected.append(Rejected.from_error(line, raw, err))
    return parsed


def _row(fields: list[str], positions: dict[str, int], zone: tzinfo) -> dict[str, Any]:
    def raw(column: str) -> str | None:
        return fields[positions[column]] if column in positions else None

    job_id = require(
        clean(raw("job_id")), "JobID", raw("job_id"), "a job id such as 1003 or 1003_2"
    )
    if not _JOB_ID.match(job_id):
        raise RowError(
            "bad_job_id", "JobID", raw("job_id"), "a job id such as 1003, 1003_2 or 55+1"
        )
    values: dict[str, Any] = {"job_id": job_id}
    text = ("cluster", "partition", "account", "user_name", "job_name", "wckey", "comment", "state")
    for column in text:
        values[column] = clean(raw(column))
    for column, label in TIMES.items():
        values[column] = _time(raw(column), label, zone)
    values["elapsed_seconds"] = parse_elapsed(raw("elapsed_seconds"))
    values["alloc_tres"] = clean(raw("alloc_tres"))
    values["gpus"], values["gpu_type"] = parse_gpus(raw("alloc_tres"))
    return values
