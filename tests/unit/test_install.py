"""What `make install` leaves in the virtual environment."""

import importlib.util
import os
from pathlib import Path

import pytest


@pytest.mark.parametrize("module", ["dbt.cli.main", "great_expectations", "airflow", "pandas"])
def test_the_heavy_packages_are_installed_byte_compiled(module: str) -> None:
    # uv writes no .pyc unless asked, and where PYTHONDONTWRITEBYTECODE is set (CI, containers)
    # Python never writes them: every dbt process of a night would compile dbt from source.
    # find_spec locates the module without running it (Airflow stays out of the unit tests).
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{module} is not installed"
    compiled = Path(importlib.util.cache_from_source(spec.origin))
    assert compiled.exists(), (
        f"{module} has no byte-code ({compiled} missing): run `rm .venv/.installed && make install`"
        f" (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"
    )
