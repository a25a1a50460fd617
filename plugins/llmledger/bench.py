"""`make bench`: how fast a full rebuild and a nightly refresh are, at three lab sizes.

For each scale of :mod:`llmledger.demo.scale` (``small``, ``medium`` and the scale point
``large``: a year of a 16,384-GPU lab), it

1. generates the lab's config and landing files once into ``.bench-cache/<scale>-<seed>/``
   (reused by later runs: generating ``large`` takes minutes and writes about 3 GB);
2. runs a **full rebuild** in a fresh home whose landing files are hard links to the cache:
   the refresh of ``llmledger run --in-process`` (:func:`llmledger.pipeline.refresh`, in one
   process, without the run's reports): ingest of every file, with dbt starting beside it,
   then ``dbt build --full-refresh`` with Great Expectations starting alongside it, then the
   mart checks;
3. runs the **nightly refresh** of one extra day on top of it, the same way: ingest of the
   day's new files, then the incremental ``dbt build`` and the checks;
4. measures the **floor**: DuckDB alone reading the raw Parquet once and computing cost per
   pool-hour and GPU-hours per job-hour (joined: cost per job-hour) in one query, under the
   same memory limit;

and prints one figure per line, each with its unit: rows per source, wall time and peak RSS
of each stage, the ratios full / floor and nightly / full, and how time grows with rows from
one scale to the next. It asserts nothing (machines are shared and noisy); BENCHMARKS.md holds
a committed run.

Peak RSS is the largest total resident set of a stage's processes at any one time (the stage
process, its ingest workers, dbt and its DuckDB), sampled every 0.1 s, and never less than the
largest single process's peak from ``getrusage``. Every stage runs in a fresh child process,
so one stage's peak is not carried into the next.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from llmledger.paths import Home, parquet_files

DEFAULT_SCALES = ("small", "medium", "large")
CACHE = Path(os.environ.get("LLMLEDGER_BENCH_CACHE", Path.cwd() / ".bench-cache"))
STAMP = ".generated"

# The floor: read the raw layer once; cost per cluster-hour (each charge spread over the
# seconds of the hours it covers) and GPU-hours per job-hour (each job over the seconds of its
# hours), then the cost of each job-hour at its pool's rate. One query, one pass per source.
FLOOR_SQL = """
with charges as (
    select
        json_extract_string(tags, '$.cluster') as cluster,
        charge_period_start as s,
        charge_period_end as e,
        effective_cost as cost,
        case when consumed_unit = 'GPU-Hours' then consumed_quantity else 0 end as gpu_hours,
        greatest(date_diff('second', charge_period_start, charge_period_end), 1) as secs
    from read_parquet({focus}, union_by_name = true)
),
pool_hours as (
    select
        cluster,
        hour,
        sum(cost * w / secs) as cost,
        sum(gpu_hours * w / secs) as gpu_hours
    from (
        select
            *,
            greatest(
                date_diff('second', greatest(s, hour), least(e, hour + interval 1 hour)), 1
            ) as w
        from (
            select *, unnest(range(date_trunc('hour', s), greatest(e, s + interval 1 second),
                                   interval 1 hour)) as hour
            from charges
        )
    )
    group by all
),
jobs as (
    select cluster, job_id, start_time as s, end_time as e, gpus
    from read_parquet({jobs}, union_by_name = true)
    where gpus > 0 and end_time > start_time
),
job_hours as (
    select
        cluster,
        job_id,
        hour,
        sum(gpus * date_diff('second', greatest(s, hour), least(e, hour + interval 1 hour))
            / 3600) as gpu_hours
    from (
        select *, unnest(range(date_trunc('hour', s), e, interval 1 hour)) as hour from jobs
    )
    group by all
)
select
    count(*) as job_hours,
    sum(j.gpu_hours) as job_gpu_hours,
    sum(p.cost * j.gpu_hours / nullif(p.gpu_hours, 0)) as allocated_cost
from job_hours as j
join pool_hours as p using (cluster, hour)
"""


def _now() -> float:
    return time.perf_counter()


def _child_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- stages: each runs in its own child process (`python -m llmledger.bench _stage ...`) -----


def _stage_generate(home: Home, scale: str, seed: int) -> dict:
    from llmledger.demo import scale as scale_mod

    summary = scale_mod.generate(home, scale, seed=seed)
    return {"files": summary.files}


def _stage_refresh(home: Home, full: bool) -> dict:
    """The refresh as ``llmledger run --in-process`` does it, without its reports (source
    freshness, the headline): the config, ingest of the new landing files, then ``dbt build``
    (dbt started before ingest; a full refresh if ``full``), Great Expectations starting in a
    thread as dbt builds, then the mart checks (:func:`llmledger.pipeline.refresh`)."""
    from llmledger import pipeline

    done = pipeline.refresh(home, full_refresh=full, echo=False)
    rows: dict[str, int] = {}
    for r in done.ingested:
        rows[r.kind] = rows.get(r.kind, 0) + r.rows_read
    return {
        "files": len(done.ingested),
        "rows_read": sum(r.rows_read for r in done.ingested),
        "rows_loaded": sum(r.rows_loaded for r in done.ingested),
        "rows_quarantined": sum(r.rows_quarantined for r in done.ingested),
        "rows_by_kind": rows,
        "plan": done.built,
        **_dbt_timings(home),
        # In this process, one after the other: the config and ingest, the build, the checks.
        "ingest_s": done.ingest_s,
        "build_s": done.build_s,
        "checks_s": done.checks_s,
    }


def _node_name(unique_id: str) -> str:
    """``model.llmledger.fct_x`` -> ``fct_x``; a test's ends in a hash, so keep its name."""
    parts = unique_id.split(".")
    return parts[2] if len(parts) > 2 else unique_id


def _dbt_timings(home: Home, count: int = 5) -> dict:
    """From the last build's run_results.json: the seconds dbt spent running its nodes
    (``elapsed_time``; the stage's wall time minus this is process start, dbt's import and
    parse, plan and record) and the ``count`` slowest nodes."""
    path = home.root / "dbt_target" / "run_results.json"
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
        elapsed = float(run["elapsed_time"])
        results = run["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return {"dbt_run_s": 0.0, "slowest": []}
    timed = [(_node_name(r["unique_id"]), float(r.get("execution_time") or 0)) for r in results]
    return {"dbt_run_s": elapsed, "slowest": sorted(timed, key=lambda t: -t[1])[:count]}


def _stage_day(home: Home, scale: str, seed: int) -> dict:
    from llmledger.demo import scale as scale_mod

    return {"files": len(scale_mod.generate_day(home, scale, seed=seed, offset=0))}


def _stage_floor(home: Home) -> dict:
    from llmledger import engine

    def parquet(kind: str) -> str:
        return engine.sql_list(parquet_files(home.raw_dir(kind)))

    con = engine.connect(home)
    try:
        job_hours, gpu_hours, cost = con.execute(
            FLOOR_SQL.format(focus=parquet("focus"), jobs=parquet("slurm_job"))
        ).fetchall()[0]
    finally:
        con.close()
    return {
        "job_hours": job_hours,
        "job_gpu_hours": float(gpu_hours or 0),
        "cost": float(cost or 0),
    }


def _stage_counts(home: Home) -> dict:
    from llmledger.warehouse import connect_readonly

    with connect_readonly(home) as con:
        allocations = con.execute("select count(*) from fct_cost_allocation").fetchall()[0][0]
        jobs = con.execute(
            "select count(distinct job_key) from intermediate.int_jobs_tagged"
        ).fetchall()[0][0]
    return {"fct_cost_allocation_rows": allocations, "jobs": jobs}


STAGES = {
    "generate": lambda home, a: _stage_generate(home, a.scale, a.seed),
    "refresh_full": lambda home, a: _stage_refresh(home, True),
    "refresh": lambda home, a: _stage_refresh(home, False),
    "day": lambda home, a: _stage_day(home, a.scale, a.seed),
    "floor": lambda home, a: _stage_floor(home),
    "counts": lambda home, a: _stage_counts(home),
}


def _run_stage_here(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--home", required=True)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    # No skeleton made here: the stages that write make what they need (generate makes the
    # home, a refresh makes it once dbt is started); the others run on a lab already built.
    home = Home.resolve(args.home)
    result = STAGES[args.stage](home, args)
    result["self_peak_mb"] = _self_peak_mb()
    result["child_peak_mb"] = _child_peak_mb()
    Path(args.out).write_text(json.dumps(result, default=str))
    return 0


class Stage:
    """Run one stage in a child process; its wall time and the peak RSS of its processes."""

    def __init__(self, home: Path, scale: str, seed: int) -> None:
        self.home, self.scale, self.seed = home, scale, seed

    def __call__(self, stage: str) -> tuple[float, float, dict]:
        out = self.home.parent / f".bench-{stage}.json"
        cmd = [
            sys.executable,
            "-m",
            "llmledger.bench",
            "_stage",
            stage,
            "--home",
            str(self.home),
            "--scale",
            self.scale,
            "--seed",
            str(self.seed),
            "--out",
            str(out),
        ]
        start = _now()
        proc = subprocess.Popen(cmd)
        tree_peak_mb = _watch_tree_rss(proc)
        elapsed = _now() - start
        if proc.returncode != 0:
            raise SystemExit(
                f"bench: stage {stage} of {self.scale} failed (exit {proc.returncode})"
            )
        result = json.loads(out.read_text())
        out.unlink()
        # Processes of a stage run side by side (ingest workers, dbt's DuckDB): the peak is the
        # largest sum of their resident sets, sampled; never below the largest single one.
        peak = max(result.pop("self_peak_mb"), result.pop("child_peak_mb"), tree_peak_mb)
        return elapsed, peak, result


def _watch_tree_rss(proc: subprocess.Popen, every_s: float = 0.1) -> float:
    """Wait for ``proc``; the largest total RSS (MB) of it and its descendants, sampled."""
    import psutil

    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            members = [root, *root.children(recursive=True)]
        except psutil.Error:
            members = []
        total = 0
        for member in members:
            with contextlib.suppress(psutil.Error):
                total += member.memory_info().rss
        peak = max(peak, total)
        time.sleep(every_s)
    return peak / 2**20


def _cached_lab(scale: str, seed: int) -> tuple[Path, float | None]:
    """The generated lab of ``scale`` (generated now if not cached); seconds it took, if now."""
    from llmledger.demo.scale import GENERATOR_VERSION

    folder = CACHE / f"{scale}-{seed}"
    made_by = f"generator {GENERATOR_VERSION}, seed {seed}"
    if _stamp(folder).startswith(f"{made_by},"):
        return folder, None
    if folder.exists():
        # Not stamped (generation stopped half-way), or by another version of the generator.
        print(f"{folder}: not {made_by}, generating it again", flush=True)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    print(f"generating the {scale} lab into {folder} (once; later runs reuse it)", flush=True)
    elapsed, _peak, _ = Stage(folder, scale, seed)("generate")
    (folder / STAMP).write_text(f"{made_by}, generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    return folder, elapsed


def _stamp(folder: Path) -> str:
    """What generated the cached lab in ``folder`` ("" if nothing finished there)."""
    try:
        return (folder / STAMP).read_text(encoding="utf-8")
    except OSError:
        return ""


def _fresh_home(lab: Path, scale: str) -> Path:
    """A new home with the lab's config copied and its landing files hard-linked."""
    home = CACHE / f"run-{scale}"
    if home.exists():
        shutil.rmtree(home)
    shutil.copytree(lab / "config", home / "config")
    for src in (lab / "landing").rglob("*"):
        if src.is_file():
            dst = home / "landing" / src.relative_to(lab / "landing")
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    return home


def _line(label: str, value: float | int | str, unit: str = "", digits: int = 1) -> None:
    if isinstance(value, float):
        text = f"{value:,.{digits}f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = value
    print(f"{label:<58} {text:>14} {unit}".rstrip(), flush=True)


def bench_scale(scale: str, seed: int) -> dict:
    lab, generated_s = _cached_lab(scale, seed)
    home = _fresh_home(lab, scale)
    run = Stage(home, scale, seed)
    figures: dict = {"scale": scale}
    print(f"\n== {scale} ==", flush=True)
    if generated_s is not None:
        _line(f"{scale}: generate landing files", generated_s, "s")

    full_s, full_mb, full = run("refresh_full")
    for kind, rows in sorted(full["rows_by_kind"].items()):
        _line(f"{scale}: rows read, {kind}", rows, "rows")
    _line(f"{scale}: rows read, all sources", full["rows_read"], "rows")
    _line(f"{scale}: rows quarantined", full["rows_quarantined"], "rows")
    _, _, counts = run("counts")
    _line(f"{scale}: jobs", counts["jobs"], "jobs")
    _line(f"{scale}: fct_cost_allocation rows", counts["fct_cost_allocation_rows"], "rows")
    _refresh_lines(scale, "full rebuild", full_s, full_mb, full)

    floor_s, floor_mb, floor = run("floor")
    _line(f"{scale}: floor (DuckDB alone, one query over raw Parquet)", floor_s, "s")
    _line(f"{scale}: floor, peak RSS", floor_mb, "MB")
    _line(f"{scale}: floor, job-hours priced", floor["job_hours"], "rows")

    run("day")
    nightly_s, nightly_mb, night = run("refresh")
    _line(f"{scale}: nightly, rows read", night["rows_read"], "rows")
    _line(f"{scale}: nightly, build plan", str(night["plan"]))
    _refresh_lines(scale, "nightly", nightly_s, nightly_mb, night)
    _line(f"{scale}: ratio full / floor", full_s / floor_s, "x")
    # The floor reads Parquet that ingest wrote; the warehouse part alone, for comparison.
    warehouse_s = full["build_s"] + full["checks_s"]
    _line(f"{scale}: ratio (dbt build + checks) / floor", warehouse_s / floor_s, "x")
    _line(f"{scale}: ratio nightly / full", nightly_s / full_s, "x", digits=3)
    shutil.rmtree(home)
    figures.update(
        rows=full["rows_read"],
        full_s=full_s,
        full_mb=full_mb,
        floor_s=floor_s,
        nightly_s=nightly_s,
        plan=full["plan"],
    )
    return figures


def _refresh_lines(scale: str, what: str, wall_s: float, peak_mb: float, done: dict) -> None:
    """The figures of one refresh (the full rebuild or the nightly), from its stage."""
    _line(f"{scale}: {what}, new files", done["files"], "files")
    _line(f"{scale}: {what}, config and ingest", done["ingest_s"], "s")
    _line(f"{scale}: {what}, dbt build (plan to exit)", done["build_s"], "s")
    _line(f"{scale}: {what}, mart checks (GX)", done["checks_s"], "s")
    _line(f"{scale}: {what}, total", wall_s, "s")
    # dbt starts before ingest: what is left of its start (import, parse), the plan and the
    # record once ingest is done, beside the nodes themselves. GX starts as dbt builds.
    left_s = max(done["build_s"] - done["dbt_run_s"], 0.0)
    _line(f"{scale}: {what}, dbt: running the nodes", done["dbt_run_s"], "s")
    _line(f"{scale}: {what}, dbt: start, plan, exit (fixed)", left_s, "s")
    _line(f"{scale}: {what}, peak RSS (ingest, dbt and checks)", peak_mb, "MB")
    for name, seconds in done["slowest"]:
        _line(f"{scale}: {what}, dbt node {name}", seconds, "s")


# Issue 9's targets, printed beside the measurements (never asserted: machines are noisy).
FULL_TARGET_S = 600
PEAK_TARGET_MB = 8 * 1024
FLOOR_RATIO_TARGET = 3
NIGHTLY_RATIO_TARGET = 1 / 20


def _targets(results: list[dict]) -> None:
    largest = results[-1]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"\n== targets ({largest['scale']}) ==")
    rows = [
        (f"full rebuild <= {FULL_TARGET_S} s", largest["full_s"] <= FULL_TARGET_S),
        (f"peak RSS <= {PEAK_TARGET_MB:,} MB", largest["full_mb"] <= PEAK_TARGET_MB),
        (
            f"full rebuild <= {FLOOR_RATIO_TARGET} x floor",
            largest["full_s"] <= FLOOR_RATIO_TARGET * largest["floor_s"],
        ),
        (
            "nightly <= 1/20 of full rebuild",
            largest["nightly_s"] <= NIGHTLY_RATIO_TARGET * largest["full_s"],
        ),
    ]
    for small, big in itertools.pairwise(results):
        growth = (big["full_s"] / small["full_s"]) / (big["rows"] / small["rows"])
        label = f"time grows at most linearly, {small['scale']} -> {big['scale']}"
        rows.append((label, growth <= 1))
    for label, ok in rows:
        _line(label, verdict(ok))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_stage"]:
        # A stage's process ends as the `llmledger` command does (llmledger.cli.entry).
        from llmledger.dbt_started import exit_now

        exit_now(_run_stage_here(argv[1:]))
    from llmledger.demo.scale import DEFAULT_SEED

    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scales",
        default=",".join(DEFAULT_SCALES),
        help="comma-separated, smallest first (default: small,medium,large)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]

    print(f"LLM Ledger bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{_memory_gib():.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, DuckDB {_duckdb_version()}"
    )
    print(f"cache: {CACHE}")
    results = [bench_scale(scale, args.seed) for scale in scales]
    if len(results) > 1:
        print("\n== growth ==")
        for small, big in itertools.pairwise(results):
            rows = big["rows"] / small["rows"]
            full = big["full_s"] / small["full_s"]
            _line(f"{small['scale']} -> {big['scale']}: rows grow", rows, "x")
            _line(f"{small['scale']} -> {big['scale']}: full rebuild time grows", full, "x")
            _line(
                f"{small['scale']} -> {big['scale']}: time growth / row growth",
                full / rows,
                "(<= 1: linear or better)",
                digits=2,
            )
            _line(
                f"{small['scale']} -> {big['scale']}: nightly refresh time grows",
                big["nightly_s"] / small["nightly_s"],
                "x",
                digits=2,
            )
    _targets(results)
    return 0


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 0.0


def _duckdb_version() -> str:
    import duckdb

    return duckdb.__version__


if __name__ == "__main__":
    raise SystemExit(main())
