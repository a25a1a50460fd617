"""The ``llmledger`` command line.

Each subcommand is a thin layer over the package: parse arguments, call one or two functions,
print what happened. Errors a user can act on (bad config, a failed build or check, a missing
file, a write attempted through ``sql``) print one clear message and exit 1; ``-v`` adds the
traceback. Heavy modules are imported by the subcommand that needs them, so ``llmledger sql``
starts without loading Airflow or Great Expectations.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from llmledger import __version__
from llmledger.paths import DEFAULT_HOME, Home

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_IMPLEMENTED = 2
NOT_IMPLEMENTED = "not implemented yet: see issue 7"


class UserError(Exception):
    """A problem with what the user asked for; printed as one line, without a traceback."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from llmledger.pipeline import user_errors

    return (UserError, FileNotFoundError, *user_errors())


# ---------------------------------------------------------------------------------------------
# ingest


def cmd_ingest(args: argparse.Namespace, home: Home) -> int:
    from llmledger import ingest

    home.ensure()

    def progress(done: int, total: int, result: Any) -> None:
        print(f"[{done}/{total}] {result.summary()}", flush=True)

    results = ingest.ingest_paths(home, args.paths, args.kind, progress, args.workers)
    by_status = {
        status: sum(1 for r in results if r.status == status)
        for status in ("loaded", "file_quarantined", "already_ingested")
    }
    print(
        f"{len(results)} file(s): {by_status['loaded']} loaded, "
        f"{by_status['file_quarantined']} quarantined as a whole, "
        f"{by_status['already_ingested']} already ingested; rows: "
        f"{sum(r.rows_read for r in results)} read, {sum(r.rows_loaded for r in results)} loaded, "
        f"{sum(r.rows_quarantined for r in results)} quarantined, "
        f"{sum(r.rows_skipped for r in results)} skipped"
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# build / run / demo


def cmd_build(args: argparse.Namespace, home: Home) -> int:
    from llmledger import pipeline, validation

    # Great Expectations starts while dbt builds, not before: the config and plan go first.
    done = pipeline.build(home, full_refresh=args.full_refresh, while_building=validation.warm_up)
    print(f"dbt build: {done}")
    print(pipeline.validate(home).report())
    print(f"warehouse: {home.warehouse}")
    return EXIT_OK


def _run(home: Home, in_process: bool, verbose: bool = False) -> int:
    from llmledger import pipeline

    if in_process:
        print(pipeline.run_in_process(home))
        return EXIT_OK
    from llmledger import airflow_runner

    # The DAG's first task does this too; doing it here first turns a bad config into one
    # clear line before Airflow spends 20 s starting up.
    pipeline.prepare(home)
    code = airflow_runner.run_dag(home, stream=verbose)
    if code != 0:
        print(
            f"error: the Airflow run of llmledger_nightly failed (exit {code}); "
            "see the task log above",  # the runner printed its tail and its path
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(pipeline.headline(home))
    return EXIT_OK


def cmd_run(args: argparse.Namespace, home: Home) -> int:
    return _run(home, args.in_process, getattr(args, "verbose", False))


def cmd_demo(args: argparse.Namespace, home: Home) -> int:
    from llmledger import demo

    home.ensure()
    if args.scale is not None:
        return _scale_demo(args, home)
    summary = demo.generate(home) if args.seed is None else demo.generate(home, seed=args.seed)
    print(f"demo organisation written to {home.root}: {summary}")
    code = _run(home, args.in_process, getattr(args, "verbose", False))
    if code != EXIT_OK:
        return code
    return _demo_report(home)


def _scale_demo(args: argparse.Namespace, home: Home) -> int:
    """``demo --scale``: the scaled lab of :mod:`llmledger.demo.scale`, refreshed in process
    (per-file Airflow task overhead would swamp what a scale run is meant to show)."""
    from llmledger import pipeline
    from llmledger.demo import scale

    seed = scale.DEFAULT_SEED if args.seed is None else args.seed
    summary = scale.generate(home, args.scale, seed=seed)
    print(f"scaled lab written to {home.root}: {summary}")
    if args.generate_only:
        return EXIT_OK
    print(pipeline.run_in_process(home))
    return EXIT_OK


def _demo_report(home: Home) -> int:
    """The review of the demo's last full quarter, written where ``report`` writes it."""
    from datetime import datetime

    from llmledger.demo.organisation import END
    from llmledger.report import build_report, last_full_quarter

    quarter = last_full_quarter(datetime.combine(END, datetime.min.time()))
    report = build_report(home, quarter)
    print(f"quarterly allocation review {quarter}: {report.html}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# sql


def _read_query(args: argparse.Namespace) -> str:
    if (args.query is None) == (args.file is None):
        raise UserError('give either a query ("select ...") or --file PATH, not both')
    if args.file is not None:
        return Path(args.file).read_text(encoding="utf-8")
    return args.query


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """Query results as ``table``, ``csv`` or ``json`` (a list of objects) text.

    Decimals keep every digit (JSON carries them as strings: no float rounding)."""
    from llmledger.pipeline import to_jsonable

    if fmt == "json":
        records = [dict(zip(columns, (to_jsonable(v) for v in row), strict=True)) for row in rows]
        return json.dumps(records, indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else to_jsonable(v) for v in row] for row in rows)
        return out.getvalue().rstrip("\n")
    from llmledger.summary import format_table

    numeric = [
        all(isinstance(row[i], int | float | Decimal) for row in rows if row[i] is not None)
        and any(row[i] is not None for row in rows)
        for i in range(len(columns))
    ]
    table = format_table(columns, rows, right_align=numeric)
    return f"{table}\n({len(rows)} row{'s' if len(rows) != 1 else ''})"


def cmd_sql(args: argparse.Namespace, home: Home) -> int:
    import duckdb

    from llmledger.warehouse import connect_readonly

    query = _read_query(args)
    params = _parse_params(getattr(args, "param", None) or [])
    con = connect_readonly(home)
    try:
        for name, value in params.items():
            # Session variables, read by saved queries with getvariable('name'); the
            # warehouse itself stays read-only.
            con.execute(f"set variable {name} = ?", [value])
        cursor = con.execute(query)
        if cursor.description is None:
            raise UserError("the statement returned no rows (llmledger sql only reads)")
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        if "read-only" in message or "read only" in message:
            raise UserError(
                "refused: the warehouse is opened read-only and `llmledger sql` only reads; "
                "it is written by dbt (`llmledger build` / `llmledger run`). "
                f"DuckDB said: {message}"
            ) from exc
        raise UserError(f"SQL error{sql_error_position(query, str(exc))}") from exc
    finally:
        con.close()
    print(format_rows(columns, rows, args.format))
    return EXIT_OK


def _parse_params(items: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs given with ``--param``; NAME must be an identifier."""
    import re

    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UserError(
                f"--param {item!r}: expected NAME=VALUE with NAME a plain identifier, "
                "e.g. --param quarter=2026Q3"
            )
        params[name] = value
    return params


def sql_error_position(query: str, error: str) -> str:
    """`` at line L, column C: <DuckDB's message>`` plus the query line and a caret under the
    position, from DuckDB's ``LINE n: ...`` excerpt; just ``: <message>`` when it has none."""
    import re

    lines = error.splitlines()
    message = lines[0]
    for i, text in enumerate(lines):
        match = re.match(r"LINE (\d+): (.*)$", text)
        if not match or i + 1 >= len(lines):
            continue
        line_no, excerpt = int(match.group(1)), match.group(2)
        caret = lines[i + 1].find("^")
        query_lines = query.splitlines()
        if caret < 0 or not 1 <= line_no <= len(query_lines):
            break
        offset_in_excerpt = caret - (len(text) - len(excerpt))
        source = query_lines[line_no - 1]
        # DuckDB may shorten a long line to a window around the position, marked with "...".
        fragment = excerpt.removeprefix("...").removesuffix("...")
        start = source.find(fragment[: max(1, min(len(fragment), 40))])
        skipped = len(excerpt) - len(excerpt.removeprefix("..."))
        column = (start if start >= 0 else 0) + offset_in_excerpt - skipped + 1
        column = max(1, min(column, len(source) + 1))
        pointer = " " * (column - 1) + "^"
        return f" at line {line_no}, column {column}: {message}\n  {source}\n  {pointer}"
    return f": {message}"


def cmd_report(args: argparse.Namespace, home: Home) -> int:
    from llmledger.report import QuarterError, build_report

    if not args.quarter:
        raise UserError("give the quarter to review: --quarter YYYYQn (e.g. 2026Q3)")
    frozen = _frozen_report(home, args.quarter, args.out)
    if frozen is not None:
        print(frozen)
        return EXIT_OK
    try:
        report = build_report(home, args.quarter, args.out)
    except QuarterError as exc:
        raise UserError(str(exc)) from exc
    print(report.summary())
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# periods: close / reopen


def _frozen_report(home: Home, quarter: str, out: str | None) -> str | None:
    """A closed quarter's review is the one frozen at its close (byte for byte); ``None`` for
    an open quarter."""
    from llmledger import periods

    try:
        period = periods.closed_period(home, quarter)
        if period is None:
            return None
        files = periods.frozen_report(home, quarter, Path(out) if out else None)
    except periods.PeriodError as exc:
        raise UserError(str(exc)) from exc
    html = next((f for f in files or [] if f.suffix == ".html"), None)
    return (
        f"report {period.quarter}: {html}\n"
        f"quarter {period.quarter} is closed: this is its review as frozen at the close "
        f"({period.closed_at:%Y-%m-%d %H:%M:%S} UTC by {period.closed_by}), {len(files or [])} "
        f"file(s) copied from {period.folder / 'report'}"
    )


def cmd_close(args: argparse.Namespace, home: Home) -> int:
    from llmledger import periods

    if not args.quarter:
        raise UserError("give the quarter to close: --quarter YYYYQn (e.g. 2026Q3)")
    try:
        period = periods.close(home, args.quarter)
    except periods.PeriodError as exc:
        raise UserError(str(exc)) from exc
    manifest = periods.verify(home, period.quarter)
    print(
        f"closed {period.quarter} at {period.closed_at:%Y-%m-%d %H:%M:%S} UTC by "
        f"{period.closed_by}: {len(manifest['files'])} file(s) in {period.folder} "
        f"(sha256 of each in {periods.MANIFEST}); logged in {periods.log_path(home)}.\n"
        f"Cost that arrives later for {period.quarter} posts to the first open quarter as a "
        "prior-period adjustment (fct_prior_period_adjustment) after the next build."
    )
    return EXIT_OK


def cmd_reopen(args: argparse.Namespace, home: Home) -> int:
    from llmledger import periods

    if not args.quarter:
        raise UserError("give the quarter to reopen: --quarter YYYYQn (e.g. 2026Q3)")
    try:
        archive = periods.reopen(home, args.quarter, args.reason or "")
    except periods.PeriodError as exc:
        raise UserError(str(exc)) from exc
    print(
        f"reopened {args.quarter}: snapshot moved to {archive} (kept for audit); logged in "
        f"{periods.log_path(home)}. Run `llmledger build` to rebuild the quarter live."
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# later issues


def cmd_not_implemented(args: argparse.Namespace, home: Home) -> int:
    print(f"llmledger {args.command}: {NOT_IMPLEMENTED}", file=sys.stderr)
    return EXIT_NOT_IMPLEMENTED


# ---------------------------------------------------------------------------------------------
# parser and entry point


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: global options work before or after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help=f"working folder (default: $LLMLEDGER_HOME, else ./{DEFAULT_HOME})",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log progress and show tracebacks on errors",
    )
    parser = argparse.ArgumentParser(
        prog="llmledger",
        parents=[common],
        description="LLM Ledger: what each model generation cost, data versus training.",
    )
    parser.add_argument("--version", action="version", version=f"llmledger {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[common], help="ingest files or folders (idempotent)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="a file, or a folder read recursively")
    p.add_argument(
        "--kind",
        choices=["billing", "invoices", "pipeline", "auto"],
        default="auto",
        help="what the files are (default: recognise each file)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="files parsed at once, one process each, when there are at least 32 MiB of them "
        "(default: one per core)",
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("build", parents=[common], help="dbt build + mart checks on the ingested")
    p.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every table from the raw layer (default: incremental where it can be)",
    )
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "run",
        parents=[common],
        help="the whole nightly refresh, through Airflow (llmledger_nightly)",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run the same steps in this process, without Airflow",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sql", parents=[common], help="query the warehouse (read-only)")
    p.add_argument("query", nargs="?", help="the SQL query")
    p.add_argument("--file", metavar="PATH", help="read the query from a file (sql/queries/*.sql)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="set a query parameter, read in SQL as getvariable('NAME') (repeatable)",
    )
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser(
        "report",
        parents=[common],
        help="quarterly allocation review: HTML with charts, CSV and XLSX extracts",
    )
    p.add_argument("--quarter", metavar="YYYYQn", help="the quarter to review, e.g. 2026Q3")
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default: <home>/reports/<quarter>/)"
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "close",
        parents=[common],
        help="close a quarter: snapshot its marts and report (needs a current, reconciled build)",
    )
    p.add_argument("--quarter", metavar="YYYYQn")
    p.set_defaults(func=cmd_close)

    p = sub.add_parser(
        "reopen", parents=[common], help="reopen a closed quarter (logged, with a reason)"
    )
    p.add_argument("--quarter", metavar="YYYYQn")
    p.add_argument("--reason", metavar="TEXT", help="why the quarter is reopened (required)")
    p.set_defaults(func=cmd_reopen)

    p = sub.add_parser(
        "demo", parents=[common], help="generate the demo organisation's data and run everything"
    )
    p.add_argument("--seed", type=int, default=None, help="random seed of the generator")
    p.add_argument("--in-process", action="store_true", help="run without Airflow")
    p.add_argument(
        "--scale",
        choices=("tiny", "small", "medium", "large"),
        default=None,
        help="a generated lab of this size instead of the demo organisation (large: 16,384 "
        "GPUs, a year, ~18M billing rows); refreshed in process",
    )
    p.add_argument(
        "--generate-only", action="store_true", help="with --scale: write the files, run nothing"
    )
    p.set_defaults(func=cmd_demo)
    return parser


def entry() -> None:
    """The ``llmledger`` console script: :func:`main`, then the process ends without the
    interpreter's finalisation (:func:`llmledger.dbt_started.exit_now`: threads, exit handlers
    and streams are finished first), which takes 0.5 to 1 s once Great Expectations is loaded,
    after every ``llmledger build`` and nightly run."""
    from llmledger.dbt_started import exit_now

    exit_now(main())


def main(argv: Sequence[str] | None = None) -> int:
    """What the ``llmledger`` console script runs (:func:`entry`); returns the exit code."""
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    home = Home.resolve(getattr(args, "home", None))
    try:
        return args.func(args, home)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped early (`llmledger sql ... | head`): not an error. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        if verbose:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
