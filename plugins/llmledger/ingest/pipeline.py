"""One source file in, its raw Parquet, quarantine and ingest-log row out.

A file is identified by the sha256 of its bytes: a file whose ingest-log row exists is skipped
whole. For every file, ``rows_read = rows_loaded + rows_quarantined + rows_skipped``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from llmledger.ingest import (
    billing,
    focus,
    focus_fast,
    manifest,
    opencost,
    sacct,
    tabular,
    vendor_csv,
)
from llmledger.ingest.common import FileRejected, Parsed, Record, Rejected, RowError, decode
from llmledger.ingest.detect import (
    LANDING_FOLDER,
    PARSERS,
    kind_from_landing,
    normalise_kind,
    sniff_kind,
)
from llmledger.ingest.writer import copy_file, read_log, write_json, write_log, write_parquet
from llmledger.paths import Home
from llmledger.raw_schema import QUARANTINE_ROW, RAW_SCHEMAS

log = logging.getLogger(__name__)

LOADED = "loaded"
FILE_QUARANTINED = "file_quarantined"
ALREADY_INGESTED = "already_ingested"

# The largest absolute value a raw column may hold. A bill or invoice line of a trillion (in
# any currency), or a job on a million GPUs, is a typo or garbage; loading it would overflow
# the warehouse's DECIMAL(38, 10) sums, FX conversions and HUGEINT cost splits and crash dbt
# for everyone, so the row is quarantined (`out_of_range`) instead. Other columns are bounded
# by their storage type (DECIMAL(38, 10), BIGINT).
MONEY_LIMIT = Decimal(10) ** 12
MAX_ABS: dict[str, Decimal] = {
    **dict.fromkeys(
        (
            "billed_cost", "effective_cost", "list_cost", "contracted_cost",
            "unit_price", "platform_fee", "credit", "amount", "tax", "discount",
            "invoice_total", "gpu_cost", "total_cost",
        ),
        MONEY_LIMIT,
    ),
    "gpus": Decimal(10) ** 6,
}  # fmt: skip
STORAGE_LIMIT = {"decimal": Decimal(10) ** 28, "int": Decimal(2) ** 63}


@dataclass(frozen=True)
class IngestResult:
    """What happened to one source file. ``reasons`` counts quarantined rows by reason code."""

    source_file: str
    sha256: str
    kind: str
    parser: str
    status: str  # loaded | file_quarantined | already_ingested
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    reasons: Mapping[str, int] = field(default_factory=dict)
    message: str = ""
    skip_reasons: Mapping[str, int] = field(default_factory=dict)  # skipped rows by reason

    def summary(self) -> str:
        """One line for people: the file, then what was loaded, quarantined or why not."""
        if self.status == LOADED:
            text = (
                f"{self.source_file}: {self.kind}, {self.rows_loaded} of {self.rows_read} rows "
                f"loaded, {self.rows_quarantined} quarantined, {self.rows_skipped} skipped"
            )
            if self.reasons:
                text += (
                    " ("
                    + ", ".join(f"{n} {code}" for code, n in sorted(self.reasons.items()))
                    + ")"
                )
            if self.skip_reasons:
                text += (
                    " (skipped: "
                    + ", ".join(f"{n} {code}" for code, n in sorted(self.skip_reasons.items()))
                    + ")"
                )
            return text
        return f"{self.source_file}: {self.status.replace('_', ' ')}: {self.message}"


class UnsafePath(ValueError):
    """A path written as a landing file that leads outside ``landing/`` (through ``..`` or a
    symbolic link). Nothing is read from it."""


def confine_to_landing(
    home: Home | str | os.PathLike[str] | None,
    path: str | os.PathLike[str],
    strict: bool = True,
) -> Path:
    """``path`` (made absolute, not normalised) once it is known to stay inside ``landing/``.

    A path written under ``landing/`` must still be there once ``..`` and symbolic links are
    resolved, else :class:`UnsafePath`: a link planted in landing/ must not make ingest read
    (and copy into the home) a file from elsewhere. ``strict`` also refuses paths not written
    under ``landing/`` at all (what the DAG ingests); otherwise they pass, as files given from
    outside the home that ingest copies in.
    """
    home = _home(home)
    written = Path(os.path.join(os.getcwd(), os.path.expanduser(os.fspath(path))))
    landing = home.landing
    claims_landing = written.parts[: len(landing.parts)] == landing.parts
    if not claims_landing and not strict:
        return written
    real = Path(os.path.realpath(written))
    if claims_landing and real.is_relative_to(os.path.realpath(landing)):
        return written
    shown = _display(home, written) if claims_landing else str(written)
    how = "a symbolic link" if written.is_symlink() else "a path"
    raise UnsafePath(
        f"{shown}: refused: {how} that resolves to {real}, outside {landing}; "
        "only files inside landing/ are ingested (copy the file into landing/ instead)"
    )


def _home(home: Home | str | os.PathLike[str] | None) -> Home:
    return Home(_absolute(home.root)) if isinstance(home, Home) else Home.resolve(home)


def _absolute(path: str | os.PathLike[str]) -> Path:
    # Lexical, not resolve(): a symlink inside landing/ is still a landing file.
    return Path(os.path.abspath(Path(path).expanduser()))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _walk(folder: Path) -> Iterator[Path]:
    """Files under ``folder``, recursively, skipping hidden files and folders."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def _inside(path: Path, folder: Path) -> bool:
    return path.is_relative_to(folder)


def _hash_cache_path(home: Home) -> Path:
    return home.root / "cache" / "landing_sha256.json"


def landing_hashes(home: Home, paths: Iterable[Path], prune: bool = False) -> dict[Path, str]:
    """sha256 of each landing file, read only when its (size, mtime_ns) changed.

    A nightly run lists thousands of landing files; re-hashing each would re-read every byte
    ever delivered. The cache (``cache/landing_sha256.json``) is keyed by path and only
    remembers (size, mtime_ns) -> sha256: a file rewritten in place gets a new mtime and is
    hashed again. The ingest log stays the truth of what was ingested. ``prune`` (for a call
    with every landing file) drops the entries of files not given, i.e. gone; without it the
    entries of other files are kept.
    """
    cache_path = _hash_cache_path(home)
    try:
        cached = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    fresh: dict[str, list[Any]] = {}
    hashes: dict[Path, str] = {}
    for path in paths:
        stat = path.stat()
        key = path.relative_to(home.root).as_posix() if _inside(path, home.root) else str(path)
        entry = cached.get(key)
        if (
            isinstance(entry, list)
            and len(entry) == 3
            and entry[:2] == [stat.st_size, stat.st_mtime_ns]
        ):
            sha = str(entry[2])
        else:
            sha = _sha256(path.read_bytes())
        fresh[key] = [stat.st_size, stat.st_mtime_ns, sha]
        hashes[path] = sha
    if not prune:
        fresh = {**cached, **fresh}
    if fresh != cached:
        write_json(fresh, cache_path)
    return hashes


def pending_files(home: Home | str | os.PathLike[str] | None) -> list[Path]:
    """Files under ``landing/`` (recursive, hidden ones skipped) not in the ingest log, sorted."""
    home = _home(home)
    if not home.landing.is_dir():
        return []
    safe = []
    for path in _walk(home.landing):
        try:
            confine_to_landing(home, path)
        except UnsafePath as exc:
            # Not read, not ingested: the run goes on with the files that are really here.
            log.warning("%s", exc)
            continue
        safe.append(path)
    hashes = landing_hashes(home, safe, prune=True)
    return sorted(
        path
        for path, sha in hashes.items()
        if not (home.ingest_log / f"{sha}.parquet").exists()
    )


# Below this many bytes of files a batch is ingested in this process: starting a worker (a
# Python with pyarrow and DuckDB) costs about a second, more than parsing a few small files.
MIN_PARALLEL_BYTES = 32 * 2**20


def ingest_paths(
    home: Home | str | os.PathLike[str] | None,
    paths: Iterable[str | os.PathLike[str]],
    kind: str = "auto",
    progress: Callable[[int, int, IngestResult], None] | None = None,
    workers: int = 1,
    min_parallel_bytes: int = MIN_PARALLEL_BYTES,
) -> list[IngestResult]:
    """Ingest files and folders (read recursively, hidden names skipped), in sorted order.

    ``kind`` is ``billing``, ``invoices``, ``pipeline`` or ``auto`` (by landing folder, else by
    header). ``progress(done, total, result)`` is called after each file. With ``workers`` > 1
    and at least ``min_parallel_bytes`` to read, files are parsed by that many processes at
    once (each file is independent: its own raw, quarantine and log files); results are still
    returned in sorted order.
    """
    home = _home(home)
    normalise_kind(kind)
    files: list[Path] = []
    for given in paths:
        confine_to_landing(home, given, strict=False)
        path = _absolute(given)
        if path.is_dir():
            # A home inside the folder being ingested: only its landing files are sources.
            files.extend(
                f for f in _walk(path) if not _inside(f, home.root) or _inside(f, home.landing)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    unique = list(dict.fromkeys(files))
    # Every path is checked before the first is ingested: a refused one stops the whole call.
    for path in unique:
        confine_to_landing(home, path, strict=False)
    jobs = min(workers, len(unique))
    if jobs > 1 and sum(p.stat().st_size for p in unique) >= min_parallel_bytes:
        return _ingest_parallel(home, unique, kind, progress, jobs)
    results: list[IngestResult] = []
    for done, path in enumerate(unique, start=1):
        result = ingest_file(home, path, kind)
        results.append(result)
        if progress is not None:
            progress(done, len(unique), result)
    return results


def _ingest_parallel(
    home: Home,
    files: list[Path],
    kind: str,
    progress: Callable[[int, int, IngestResult], None] | None,
    jobs: int,
) -> list[IngestResult]:
    """:func:`ingest_paths` over ``jobs`` worker processes.

    Two files with the same bytes must not be ingested at once (both would see no log row and
    both would write the same sha's raw file under their own name): the first of each content
    goes to the pool, the others are ingested after it, here, as ``already_ingested``.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    first, repeats = first_of_each_content(home, files)
    results: dict[Path, IngestResult] = {}
    done = 0
    # spawn, not fork: the parent may hold DuckDB or Airflow state that must not be copied.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_worker_init, initargs=(jobs,)
    ) as pool:
        pending = {pool.submit(_ingest_in_worker, str(home.root), str(p), kind): p for p in first}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    path = pending.pop(future)
                    results[path] = future.result()
                    done += 1
                    if progress is not None:
                        progress(done, len(files), results[path])
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    for path in repeats:
        results[path] = ingest_file(home, path, kind)
        done += 1
        if progress is not None:
            progress(done, len(files), results[path])
    return [results[path] for path in files]


def first_of_each_content(home: Home, files: list[Path]) -> tuple[list[Path], dict[Path, Path]]:
    """(the first file of each distinct content, in order; each later file -> the earlier one
    with its bytes). Only files whose size another file shares can be equal, so only those are
    hashed (landing files through the hash cache)."""
    sizes = Counter(p.stat().st_size for p in files)
    alike = [p for p in files if sizes[p.stat().st_size] > 1]
    in_landing = [p for p in alike if _inside(p, home.landing)]
    hashes: dict[Path, str] = landing_hashes(home, in_landing) if in_landing else {}
    hashes.update({p: _sha256(p.read_bytes()) for p in alike if p not in hashes})
    seen: dict[str, Path] = {}
    first: list[Path] = []
    repeats: dict[Path, Path] = {}
    for path in files:
        sha = hashes.get(path)
        if sha is not None and sha in seen:
            repeats[path] = seen[sha]
            continue
        if sha is not None:
            seen[sha] = path
        first.append(path)
    return first, repeats


def _worker_init(jobs: int) -> None:
    """In each worker: its share of the DuckDB memory and threads of config/warehouse.yaml."""
    from llmledger import engine

    engine.share(jobs)


def _ingest_in_worker(root: str, path: str, kind: str) -> IngestResult:
    return ingest_file(Home(Path(root)), Path(path), kind)


def ingest_file(
    home: Home | str | os.PathLike[str] | None, path: str | os.PathLike[str], kind: str = "auto"
) -> IngestResult:
    """Ingest one file: parse, validate, write raw and quarantine Parquet, then the log row.

    A file from outside ``landing/`` is first copied there, so the home holds every source.
    Idempotent: a file whose content was ingested before is reported ``already_ingested``
    and nothing is written.
    """
    home = _home(home)
    path = _absolute(confine_to_landing(home, path, strict=False))
    wanted = normalise_kind(kind)
    data = path.read_bytes()
    sha = _sha256(data)
    previous = read_log(home, sha)
    if previous is not None:
        log.info("%s: already ingested as %s", path, previous["source_file"])
        return IngestResult(
            source_file=_display(home, path),
            sha256=sha,
            kind=previous["kind"],
            parser=previous["parser"],
            status=ALREADY_INGESTED,
            message=f"same content as {previous['source_file']}, ingested "
            f"{previous['ingested_at']:%Y-%m-%d %H:%M} UTC",
        )

    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    text: str | None = None
    problem: FileRejected | None = None
    content = data
    try:
        # gzip is a wrapper, not a kind; Parquet is binary and only billing arrives as Parquet.
        content = tabular.gunzip(data)
        if not tabular.is_parquet(content):
            text = decode(content)
    except FileRejected as exc:
        problem = exc
    in_landing = _inside(path, home.landing)
    detected = wanted or (kind_from_landing(path.relative_to(home.landing)) if in_landing else None)
    if detected is None and text is not None:
        try:
            detected = sniff_kind(text)
        except FileRejected as exc:
            problem = exc
    if detected is None and problem is None and text is None:
        detected = billing.sniff_parquet(content)
    if wanted == "slurm_job" and text is not None:
        # `--kind pipeline` names the folder, which also holds manifests and OpenCost JSON.
        try:
            sniffed = sniff_kind(text)
        except FileRejected:
            sniffed = None
        if sniffed in ("run_manifest", "opencost_allocation"):
            detected = sniffed
    if detected is not None and not in_landing:
        path = _place_in_landing(home, path, detected, text, sha)
    source_file = _display(home, path)

    try:
        if problem is not None:
            raise problem
        if detected is None:
            raise FileRejected(
                "unknown_kind",
                "not recognised as FOCUS billing CSV, an annotation-vendor invoice CSV or an "
                "sacct --parsable2 dump; put it under landing/billing, landing/invoices/<vendor> "
                "or landing/pipeline, or pass --kind",
            )
        if detected == "focus":
            # Large plain FOCUS CSV goes through DuckDB (same rows, see focus_fast); anything
            # the cheap checks there do not vouch for takes the Python parser below.
            fast = (
                focus_fast.try_parse(home, path, content, source_file, sha, ingested_at)
                if content is data
                else None
            )
            if fast is not None:
                return _load_fast(home, source_file, sha, fast, data, ingested_at)
            parsed = billing.parse(home, path, content)
        else:
            parsed = _parse(home, path, detected, text or "")
    except FileRejected as rejected:
        return _quarantine_file(home, source_file, sha, detected, rejected, ingested_at)
    return _load(home, source_file, sha, detected, parsed, ingested_at)


def _display(home: Home, path: Path) -> str:
    return path.relative_to(home.root).as_posix() if _inside(path, home.root) else str(path)


def _folder_name(name: str | None) -> str | None:
    cleaned = re.sub(r"[^\w.\-]+", "_", name or "").strip("._")
    return cleaned or None


def _place_in_landing(home: Home, path: Path, kind: str, text: str | None, sha: str) -> Path:
    folder = home.landing / LANDING_FOLDER[kind]
    if kind == "annotation_invoice":
        try:
            hint = vendor_csv.vendor_hint(text) if text is not None else None
        except FileRejected:
            hint = None
        folder /= _folder_name(hint) or _folder_name(path.parent.name) or "unknown_vendor"
    elif kind == "focus":
        folder /= _folder_name(path.parent.name) or "imported"
    target = folder / path.name
    if target.exists() and _sha256(target.read_bytes()) != sha:
        target = folder / f"{path.stem}-{sha[:12]}{path.suffix}"
    if not target.exists():
        copy_file(path, target)
        log.info("copied %s to %s", path, target)
    return target


def _slurm_timezone(home: Home) -> tzinfo:
    """Policy ``slurm_timezone``; UTC (its default) while the home has no policies.yaml.

    Loading the whole config takes ~40 ms and a year of logs is 365 sacct files: the answer is
    kept per config folder state (the (size, mtime) of every file in it), so any edit counts.
    """
    policies = home.config / "policies.yaml"
    if not policies.exists():
        return UTC
    state = tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(home.config.iterdir())
        if p.is_file()
    )
    return _slurm_timezone_of(str(home.root), state)


@functools.lru_cache(maxsize=8)
def _slurm_timezone_of(root: str, _config_state: tuple[tuple[str, int, int], ...]) -> tzinfo:
    from llmledger import config

    return ZoneInfo(config.load_config(Home.resolve(root)).policies.slurm_timezone)


def _parse(home: Home, path: Path, kind: str, text: str) -> Parsed:
    if kind == "focus":
        return focus.parse(text)
    if kind == "annotation_invoice":
        relative = path.relative_to(home.landing).parts if _inside(path, home.landing) else ()
        vendor = relative[1] if len(relative) >= 3 and relative[0] == "invoices" else None
        from llmledger.ingest.invoices import parse as parse_invoice
        from llmledger.vendor_mappings import mapping_for

        return parse_invoice(text, mapping_for(home.config, vendor), vendor)
    if kind == "run_manifest":
        return manifest.parse(text)
    if kind == "opencost_allocation":
        return opencost.parse(text)
    return sacct.parse(text, _slurm_timezone(home))


def _quarantine_file(
    home: Home,
    source_file: str,
    sha: str,
    kind: str | None,
    rejected: FileRejected,
    ingested_at: datetime,
) -> IngestResult:
    kind_name = kind or "unknown"
    parser = PARSERS.get(kind_name, "none")
    write_json(
        {
            "source_file": source_file,
            "sha256": sha,
            "kind": kind_name,
            "reason_code": rejected.reason_code,
            "message": rejected.message,
        },
        home.quarantine_files / f"{sha}.json",
    )
    write_log(home, _log_row(source_file, sha, kind_name, parser, FILE_QUARANTINED, ingested_at))
    log.warning(
        "%s: file quarantined (%s): %s", source_file, rejected.reason_code, rejected.message
    )
    return IngestResult(
        source_file=source_file,
        sha256=sha,
        kind=kind_name,
        parser=parser,
        status=FILE_QUARANTINED,
        message=f"{rejected.reason_code}: {rejected.message}",
    )


def _log_row(
    source_file: str,
    sha: str,
    kind: str,
    parser: str,
    status: str,
    ingested_at: datetime,
    parsed: Parsed | None = None,
) -> dict[str, Any]:
    return {
        "source_file": source_file,
        "source_sha256": sha,
        "kind": kind,
        "parser": parser,
        "status": status,
        "rows_read": parsed.rows_read if parsed else 0,
        "rows_loaded": len(parsed.records) if parsed else 0,
        "rows_quarantined": len(parsed.rejected) if parsed else 0,
        "rows_skipped": parsed.rows_skipped if parsed else 0,
        "ingested_at": ingested_at,
    }


def _as_text(value: Any) -> str | None:
    if value is None or value != value:  # None, NaN and NaT are all "no value"
        return None
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value.isoformat(sep=" ") if hasattr(value, "isoformat") else str(value)


def _load(
    home: Home, source_file: str, sha: str, kind: str, parsed: Parsed, ingested_at: datetime
) -> IngestResult:
    from llmledger.validation.raw import Flag, expected, validate_table

    lineage = {"_source_file": source_file, "_source_sha256": sha, "_ingested_at": ingested_at}
    _reject_out_of_range(kind, parsed)
    rows = [{**record.values, **lineage, "_source_row": record.line} for record in parsed.records]
    table = pa.Table.from_pylist(rows, schema=RAW_SCHEMAS[kind])

    first_flag: dict[Any, Flag] = {}
    for flag in validate_table(kind, table):
        first_flag.setdefault(flag.row_index, flag)
    if first_flag:
        keep = [index not in first_flag for index in range(len(parsed.records))]
        for index, flag in first_flag.items():
            record = parsed.records[index]
            want = expected(kind, flag.expectation, flag.column)
            value = _as_text(flag.value)
            parsed.rejected.append(
                Rejected(
                    record.line,
                    record.raw_text,
                    flag.expectation,
                    flag.column,
                    value,
                    want,
                    f"validation {flag.expectation} failed: {flag.column} = {value!r}, "
                    f"expected {want}",
                )
            )
        parsed.records = [r for r, kept in zip(parsed.records, keep, strict=True) if kept]
        table = table.filter(pa.array(keep))
    if kind == "annotation_invoice":
        from llmledger.ingest.invoices import InvoiceParsed, check_invoices

        if isinstance(parsed, InvoiceParsed):
            check_invoices(parsed)
            rows = [
                {**record.values, **lineage, "_source_row": record.line}
                for record in parsed.records
            ]
            table = pa.Table.from_pylist(rows, schema=RAW_SCHEMAS[kind])
    parsed.rejected.sort(key=lambda r: r.line)

    if parsed.rows_read != len(parsed.records) + len(parsed.rejected) + parsed.rows_skipped:
        raise RuntimeError(
            f"{source_file}: row accounting broken: read {parsed.rows_read} != loaded "
            f"{len(parsed.records)} + quarantined {len(parsed.rejected)} + skipped "
            f"{parsed.rows_skipped}"
        )

    write_parquet(table, home.raw_dir(kind) / f"{sha}.parquet")
    if parsed.rejected:
        write_parquet(
            _quarantine_table(source_file, sha, kind, parsed.rejected, ingested_at),
            home.quarantine_rows / f"{sha}.parquet",
        )
    write_log(home, _log_row(source_file, sha, kind, parsed.parser, LOADED, ingested_at, parsed))

    reasons = dict(Counter(r.reason_code for r in parsed.rejected))
    result = IngestResult(
        source_file=source_file,
        sha256=sha,
        kind=kind,
        parser=parsed.parser,
        status=LOADED,
        rows_read=parsed.rows_read,
        rows_loaded=len(parsed.records),
        rows_quarantined=len(parsed.rejected),
        rows_skipped=parsed.rows_skipped,
        reasons=reasons,
        skip_reasons=dict(getattr(parsed, "skip_reasons", {})),
    )
    if parsed.rejected:
        log.warning("%s", result.summary())
        for row in parsed.rejected[:5]:
            log.warning("  line %d: %s: %s", row.line, row.reason_code, row.message)
    else:
        log.info("%s", result.summary())
    return result


@functools.cache
def _range_limits(kind: str) -> tuple[tuple[str, Decimal], ...]:
    """(column, limit) of every numeric column of ``kind``'s raw schema, in schema order."""
    limits = []
    for column in RAW_SCHEMAS[kind]:
        if pa.types.is_decimal(column.type):
            storage = STORAGE_LIMIT["decimal"]
        elif pa.types.is_integer(column.type):
            storage = STORAGE_LIMIT["int"]
        else:
            continue
        limits.append((column.name, min(MAX_ABS.get(column.name, storage), storage)))
    return tuple(limits)


def _range_problem(kind: str, record: Record) -> RowError | None:
    """The first value of ``record`` beyond :data:`MAX_ABS` or its column's storage type."""
    values = record.values
    for name, limit in _range_limits(kind):
        value = values.get(name)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            if -limit < value < limit:
                continue
        elif isinstance(value, Decimal):
            if value.is_finite() and abs(value) < limit:
                continue
        else:
            continue
        text = _as_text(value) if isinstance(value, Decimal) else str(value)
        return RowError(
            "out_of_range",
            name,
            text,
            f"an absolute value below {limit:,.0f}",
            f"column {name}: {text} is out of range; expected an absolute value "
            f"below {limit:,.0f}",
        )
    return None


def _reject_out_of_range(kind: str, parsed: Parsed) -> None:
    """Move records with an out-of-range value to ``parsed.rejected`` (before Arrow sees them:
    a value wider than DECIMAL(38, 10) would not even convert)."""
    kept: list[Record] = []
    for record in parsed.records:
        problem = _range_problem(kind, record)
        if problem is None:
            kept.append(record)
        else:
            parsed.rejected.append(Rejected.from_error(record.line, record.raw_text, problem))
            # An invoice line: the whole-invoice checks must know the invoice lost a line.
            invoice_of = getattr(parsed, "invoice_of", None)
            if invoice_of is not None and record.values.get("invoice_id"):
                vendor = str(record.values.get("vendor") or "").lower()
                invoice_of[record.line] = (vendor, record.values["invoice_id"])
    parsed.records = kept


def _reject_out_of_range_rows(kind: str, fast: focus_fast.FastParsed, data: bytes) -> pa.Table:
    """:func:`_reject_out_of_range` for a parsed table: its rows with a value beyond a limit
    move to ``fast.rejected``, with the Python path's reason and message."""
    import pyarrow.compute as pc

    table = fast.table
    beyond = None
    for name, limit in _range_limits(kind):
        if name not in table.column_names or not pa.types.is_decimal(table.schema.field(name).type):
            continue  # a decimal128(38, 10) column cannot hold a value beyond its storage
        if limit >= STORAGE_LIMIT["decimal"]:
            continue
        bound = pa.scalar(limit, type=table.schema.field(name).type)
        over = pc.fill_null(pc.greater_equal(pc.abs(table[name]), bound), False)
        beyond = over if beyond is None else pc.or_(beyond, over)
    if beyond is None or not pc.any(beyond).as_py():
        return table
    lines = table["_source_row"]
    for index in pc.indices_nonzero(beyond).to_pylist():
        line = lines[index].as_py()
        raw = fast.raw_text(data, line)
        record = Record(line, raw, table.slice(index, 1).to_pylist()[0])
        problem = _range_problem(kind, record)
        assert problem is not None
        fast.rejected.append(Rejected.from_error(line, raw, problem))
    return table.filter(pc.invert(beyond))


def _load_fast(
    home: Home,
    source_file: str,
    sha: str,
    fast: focus_fast.FastParsed,
    data: bytes,
    ingested_at: datetime,
) -> IngestResult:
    """:func:`_load` for a FOCUS file parsed by DuckDB: same checks, accounting and files."""
    from llmledger.validation.raw import expected, validate_table

    kind = "focus"
    table = _reject_out_of_range_rows(kind, fast, data)
    first_flag: dict[Any, Any] = {}
    for flag in validate_table(kind, table):
        first_flag.setdefault(flag.row_index, flag)
    if first_flag:
        lines = table["_source_row"].to_pylist()
        for index, flag in first_flag.items():
            want = expected(kind, flag.expectation, flag.column)
            value = _as_text(flag.value)
            fast.rejected.append(
                Rejected(
                    lines[index],
                    fast.raw_text(data, lines[index]),
                    flag.expectation,
                    flag.column,
                    value,
                    want,
                    f"validation {flag.expectation} failed: {flag.column} = {value!r}, "
                    f"expected {want}",
                )
            )
        table = table.filter(pa.array([i not in first_flag for i in range(table.num_rows)]))
    fast.rejected.sort(key=lambda r: r.line)
    loaded, quarantined = table.num_rows, len(fast.rejected)
    if fast.rows_read != loaded + quarantined:
        raise RuntimeError(
            f"{source_file}: row accounting broken: read {fast.rows_read} != loaded {loaded} + "
            f"quarantined {quarantined}"
        )
    write_parquet(table, home.raw_dir(kind) / f"{sha}.parquet")
    if fast.rejected:
        write_parquet(
            _quarantine_table(source_file, sha, kind, fast.rejected, ingested_at),
            home.quarantine_rows / f"{sha}.parquet",
        )
    log_row = _log_row(source_file, sha, kind, fast.parser, LOADED, ingested_at)
    log_row.update(rows_read=fast.rows_read, rows_loaded=loaded, rows_quarantined=quarantined)
    write_log(home, log_row)
    result = IngestResult(
        source_file=source_file,
        sha256=sha,
        kind=kind,
        parser=fast.parser,
        status=LOADED,
        rows_read=fast.rows_read,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        reasons=dict(Counter(r.reason_code for r in fast.rejected)),
    )
    log.log(logging.WARNING if fast.rejected else logging.INFO, "%s", result.summary())
    return result


def _quarantine_table(
    source_file: str, sha: str, kind: str, rejected: list[Rejected], ingested_at: datetime
) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "_source_file": source_file,
                "_source_sha256": sha,
                "_source_row": row.line,
                "kind": kind,
                "reason_code": row.reason_code,
                "column_name": row.column,
                "value": row.value,
                "expected": row.expected,
                "message": row.message,
                "raw_text": row.raw_text,
                "_ingested_at": ingested_at,
            }
            for row in rejected
        ],
        schema=QUARANTINE_ROW,
    )
