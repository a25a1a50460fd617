"""``make docs``: dbt's documentation site, static and offline.

Runs ``dbt docs generate --static`` and copies the single self-contained
``static_index.html`` (manifest and catalog inlined, no server needed) to ``--out``. With a
built warehouse in ``--home`` the catalog carries the real column types and row counts;
without one, the docs are generated from the project alone (``--empty-catalog``).

Usage: ``python -m llmledger.docs [--home DIR] [--out DIR]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from llmledger.paths import Home
from llmledger.warehouse import WarehouseUnusable, check_warehouse_file, run_dbt


def generate_docs(home: Home, out: Path) -> Path:
    """Write ``out/index.html`` (dbt's static docs) and return its path."""
    from llmledger import config

    check_warehouse_file(home)  # dbt would retry opening it for minutes
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llmledger-docs-") as tmp:
        has_warehouse = home.warehouse.exists()
        if not has_warehouse:
            # No warehouse yet: document the project from an empty, valid home.
            home = Home(Path(tmp) / "home").ensure()
            config.stage(home)
        proc = run_dbt(
            home,
            ["docs", "generate"],
            "--static",
            *([] if has_warehouse else ["--empty-catalog"]),
            target=Path(tmp) / "target",
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"dbt docs generate failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
            )
        target = Path(tmp) / "target"
        index = out / "index.html"
        shutil.copyfile(target / "static_index.html", index)
        for name in ("manifest.json", "catalog.json"):
            if (target / name).exists():
                shutil.copyfile(target / name, out / name)
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmledger.docs", description=__doc__)
    parser.add_argument("--home", default=None, help="LLM Ledger home (default: $LLMLEDGER_HOME)")
    parser.add_argument("--out", default="docs/dbt", help="output folder (default: docs/dbt)")
    args = parser.parse_args(argv)
    try:
        index = generate_docs(Home.resolve(args.home), Path(args.out).resolve())
    except WarehouseUnusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dbt docs (static, offline): {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
