"""`make bench`: time and memory of each stage of a refresh on the demo organisation.

Prints figures; asserts nothing (machines are shared and noisy). Runs in a temporary home so
it never touches a user's working folder.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from llmledger.paths import Home


def _timed(label: str, fn: Callable[[], object], figures: list[tuple[str, float, float]]) -> object:
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.append((label, elapsed, peak_mb))
    return result


def main(argv: list[str] | None = None) -> int:
    """Run generate, ingest, build and validate on a fresh demo home and print the figures."""
    from llmledger import demo, ingest, warehouse
    from llmledger.validation.marts import validate_marts

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args(argv)

    figures: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="llmledger-bench-") as tmp:
        home = Home.resolve(Path(tmp) / "home").ensure()
        _timed("generate demo", lambda: demo.generate(home, seed=args.seed), figures)
        results = _timed(
            "ingest (all files)", lambda: ingest.ingest_paths(home, [home.landing]), figures
        )
        _timed("re-ingest (no-op)", lambda: ingest.ingest_paths(home, [home.landing]), figures)
        _timed("dbt build", lambda: warehouse.dbt_build(home, echo=False), figures)
        _timed("validate marts (GX)", lambda: validate_marts(home), figures)
        rows = sum(r.rows_loaded for r in results)  # type: ignore[union-attr]
        with warehouse.connect_readonly(home) as con:
            allocations = con.execute("select count(*) from fct_cost_allocation").fetchall()[0][0]
        size_mb = home.warehouse.stat().st_size / 1e6

    print(f"{'stage':<24}{'seconds':>10}{'peak RSS MB (this process)':>30}")
    for label, elapsed, peak in figures:
        print(f"{label:<24}{elapsed:>10.2f}{peak:>30.0f}")
    print(
        f"raw rows loaded: {rows:,}; fct_cost_allocation rows: {allocations:,}; "
        f"warehouse {size_mb:.1f} MB"
    )
    print("dbt runs as a subprocess: its memory is not in the RSS column.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
