"""Compile dbt models to plain SQL, for the property tests that run it on random inputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from llmledger import config, warehouse
from llmledger.paths import Home


def compile_models(root: Path, *models: str) -> dict[str, str]:
    """The compiled SQL of each of ``models``, compiled by dbt against a fresh home in ``root``
    (a full build's SQL: no warehouse exists there, so no model is incremental)."""
    home = Home.resolve(root).ensure()
    config.stage(home)
    env = {**os.environ, **warehouse.dbt_env(home)}
    cmd = [warehouse.dbt_executable(), "compile", "--project-dir", str(warehouse.DBT_PROJECT_DIR)]
    proc = subprocess.run(
        [*cmd, "--select", *models], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt compile {' '.join(models)} failed:\n{proc.stdout[-4000:]}")
    target = Path(env["DBT_TARGET_PATH"])
    return {m: next(target.rglob(f"compiled/**/{m}.sql")).read_text() for m in models}
