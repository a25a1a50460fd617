"""Every published FOCUS sample, ingested together into one home and built: the warehouse's
billed and effective cost per source file equal the totals read off the CSVs by hand
(`tests/focus_samples.py`), and every invoice reconciles.

None of the samples carries an `InvoiceId`, so an invoice is (provider, no invoice id): the
reconciliation check compares the mart's billed cost per invoice with the rows delivered.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from focus_samples import SAMPLE_PATHS, SAMPLE_TOTALS
from llmledger import ingest, warehouse
from llmledger.paths import Home

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home.resolve(tmp_path_factory.mktemp("focus-samples")).ensure()
    results = ingest.ingest_paths(home, list(SAMPLE_PATHS.values()), kind="billing")
    assert [r.status for r in results] == ["loaded"] * len(SAMPLE_PATHS)
    # The two rows with the impossible hour 30 are the only ones quarantined.
    assert sum(r.rows_quarantined for r in results) == 2
    assert sum(r.rows_skipped for r in results) == 0
    warehouse.dbt_build(home, echo=False)
    return home


def query(home: Home, sql: str) -> list[tuple]:
    with warehouse.connect_readonly(home) as con:
        return con.execute(sql).fetchall()


def test_billed_and_effective_cost_per_sample_file(home: Home):
    rows = query(
        home,
        "select _source_file, sum(billed_cost), sum(effective_cost), count(*) "
        "from fct_billing_charge group by 1",
    )
    got = {
        source.rsplit("/", 1)[-1]: (billed, effective, n) for source, billed, effective, n in rows
    }
    # A file whose every row was quarantined would have no row here; none of the samples is one.
    expected = {
        name: (Decimal(billed), Decimal(effective), loaded)
        for name, (_, loaded, billed, effective, _) in SAMPLE_TOTALS.items()
    }
    assert got == expected


def test_every_invoice_reconciles_and_nothing_is_lost(home: Home):
    checks = query(
        home,
        "select check_name, scope, expected, actual, passed from rpt_reconciliation "
        "where check_name in ('billing_invoice_total', 'ingest_row_accounting', 'raw_rows_loaded') order by all",
    )
    assert checks, "the reconciliation has no invoice or row-accounting rows"
    assert [c for c in checks if not c[4]] == []
    invoices = [c for c in checks if c[0] == "billing_invoice_total"]
    # Sum of the hand totals over every sample: the one invoice-less total per provider adds up.
    assert sum(c[3] for c in invoices) == sum(Decimal(t[2]) for t in SAMPLE_TOTALS.values())
