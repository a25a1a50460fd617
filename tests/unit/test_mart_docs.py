"""Documentation for SQL users: every mart and every mart column is described in dbt YAML
(what `make docs` publishes)."""

from __future__ import annotations

from pathlib import Path

import yaml

MARTS_YML = Path(__file__).resolve().parents[2] / "dbt" / "models" / "marts" / "_marts__models.yml"


def test_every_mart_and_column_is_described():
    models = yaml.safe_load(MARTS_YML.read_text())["models"]
    sql_files = {p.stem for p in MARTS_YML.parent.glob("*.sql")}
    assert sql_files <= {m["name"] for m in models}, "a mart without YAML documentation"
    missing = [m["name"] for m in models if not (m.get("description") or "").strip()]
    missing += [
        f"{m['name']}.{c['name']}"
        for m in models
        for c in m.get("columns", [])
        if not (c.get("description") or "").strip()
    ]
    assert missing == []
