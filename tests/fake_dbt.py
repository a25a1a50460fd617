"""A stand-in for dbt in unit tests: ``warehouse.dbt_executable`` runs a Python script instead."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from llmledger import warehouse


def install(folder: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    """From now on (for this test) every dbt run of ``llmledger.warehouse`` runs ``script``
    (Python source) with dbt's arguments; returns the launcher."""
    source = folder / "fake_dbt.py"
    source.write_text(script)
    launcher = folder / "dbt"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} {source} "$@"\n')
    launcher.chmod(0o755)
    monkeypatch.setattr(warehouse, "dbt_executable", lambda: str(launcher))
    return launcher
