"""Compile dbt models to plain SQL, for the property tests that run it on random inputs."""

from __future__ import annotations

from pathlib import Path

from llmledger import config, warehouse
from llmledger.paths import Home


def compile_models(root: Path, *models: str) -> dict[str, str]:
    """The compiled SQL of each of ``models``, compiled by dbt against a fresh home in ``root``
    (a full build's SQL: no warehouse exists there, so no model is incremental)."""
    home = Home.resolve(root).ensure()
    config.stage(home)
    proc = warehouse.run_dbt(home, ["compile"], "--select", *models)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt compile {' '.join(models)} failed:\n{proc.stdout[-4000:]}")
    target = Path(warehouse.dbt_env(home)["DBT_TARGET_PATH"])
    return {m: next(target.rglob(f"compiled/**/{m}.sql")).read_text() for m in models}
