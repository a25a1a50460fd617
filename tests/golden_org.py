"""The golden organisation (tests/fixtures/golden; every figure hand-computed in
tests/e2e/test_golden.py): where its files are, a home holding them, its headline totals."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

from llmledger import warehouse
from llmledger.paths import Home

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"
GOLDEN_FOCUS = GOLDEN / "landing" / "billing" / "owned" / "focus_2026-01.csv"
GOLDEN_INVOICE = GOLDEN / "landing" / "invoices" / "acme" / "A-1.csv"
GOLDEN_SACCT = GOLDEN / "landing" / "pipeline" / "sacct_c1_2026-01.txt"

# Billing effective cost, billing rows, GPU cost allocated to jobs, annotation cost, data cost
# charged to generations.
GOLDEN_TOTALS = (Decimal("135"), 3, Decimal("100"), Decimal("31"), Decimal("43"))
TOTALS = """
select
    (select sum(effective_cost_usd) from fct_billing_charge),
    (select count(*) from fct_billing_charge),
    (select sum(allocated_cost_usd) from fct_cost_allocation),
    (select sum(cost_usd) from fct_annotation_cost),
    (select sum(data_cost_usd) from fct_data_share)
"""


def golden_home(root: Path) -> Home:
    """A fresh home holding the golden organisation's config and landing files (not ingested)."""
    home = Home.resolve(root).ensure()
    for name in ("config", "landing"):
        shutil.copytree(GOLDEN / name, home.root / name, dirs_exist_ok=True)
    return home


def query(home: Home, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the home's warehouse, opened read-only."""
    with warehouse.connect_readonly(home) as con:
        return con.execute(sql).fetchall()
