"""A licence enters its dataset's own cost at the FX rate of its date, and the parent share of
a derived dataset decides what the parent charges it (units_of_production).

Registry (the same as tests/unit/test_dataset_registry.py's REGISTRY), no bills, no jobs:
  crawl-v1     1,000 tokens, lifetime 1,000; licence 1,000.00 EUR on 2026-03-15
  filtered-v1    400 tokens, lifetime   400; licence    60.00 USD on 2026-04-10;
               derived from crawl-v1 with share 0.25 on 2026-04-01
  gen1         trains on 100 tokens of filtered-v1 on 2026-05-01
  EUR rates: 1.10 from 2026-01-01, 1.20 from 2026-03-01

By hand:
  crawl-v1 licence = 1,000.00 x 1.20 (latest rate on or before 03-15) = 1,200.00 USD (2026Q1)
  filtered-v1 consumes floor(0.25 x 1,000) = 250 tokens of crawl-v1:
    charge = 1,200.00 x 250 / 1,000 = 300.00 (2026Q2); crawl-v1 keeps 900.00
  filtered-v1 cost = 60.00 own + 300.00 inherited = 360.00
  gen1 is charged 360.00 x 100 / 400 = 90.00 (2026Q2); filtered-v1 keeps 270.00
  balances: crawl-v1 2026Q1 0 + 1,200 - 0 = 1,200; 2026Q2 1,200 + 0 - 300 = 900
            filtered-v1 2026Q2 0 + (60 + 300) - 90 = 270
  spend: 2026Q1 data.acquisition 1,200.00; 2026Q2 data.acquisition 60.00
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from llmledger import config, warehouse
from llmledger.paths import Home

D = Decimal
REGISTRY = {
    "model_generations": ["gen1,Gen 1,,,"],
    "datasets": [
        "crawl-v1,Crawl,crawl,1000,1000,units_of_production,,,1000.00,EUR,2026-03-15",
        "filtered-v1,Filtered,filtered,400,400,units_of_production,,,60.00,,2026-04-10",
    ],
    "dataset_consumption": [
        "crawl-v1,filtered-v1,dataset,,2026-04-01,0.25",
        "filtered-v1,gen1,model_generation,100,2026-05-01,",
    ],
    "fx_rates": ["EUR,2026-01-01,1.10", "EUR,2026-03-01,1.20"],
}


def write_registry(home: Home) -> None:
    home.config.mkdir(parents=True, exist_ok=True)
    for name, table in config.TABLES.items():
        lines = [",".join(table.column_names), *REGISTRY.get(name, [])]
        (home.config / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (home.config / "policies.yaml").write_text(config.policies_yaml(), encoding="utf-8")


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    home = Home.resolve(tmp_path_factory.mktemp("licences"))
    write_registry(home)
    home.ensure()
    warehouse.dbt_build(home, echo=False)
    connection = warehouse.connect_readonly(home)
    yield connection
    connection.close()


def test_licence_is_own_cost_at_the_rate_of_its_date(con):
    rows = con.execute(
        "select quarter, activity, model_generation, cost_usd from fct_quarterly_allocation "
        "order by all"
    ).fetchall()
    assert rows == [
        ("2026Q1", "data.acquisition", "unassigned", D("1200")),
        ("2026Q2", "data.acquisition", "unassigned", D("60")),
    ]


def test_parent_share_decides_the_charge_and_it_flows_to_the_generation(con):
    rows = con.execute(
        "select dataset_version, consumer, period, amortization_usd "
        "from fct_dataset_amortization order by all"
    ).fetchall()
    assert rows == [
        ("crawl-v1", "filtered-v1", "2026Q2", D("300")),
        ("filtered-v1", "gen1", "2026Q2", D("90")),
    ]
    balances = con.execute(
        "select dataset_version, quarter, opening_usd, additions_usd, amortization_usd, "
        "closing_usd from fct_dataset_balance order by all"
    ).fetchall()
    assert balances == [
        ("crawl-v1", "2026Q1", D("0"), D("1200"), D("0"), D("1200")),
        ("crawl-v1", "2026Q2", D("1200"), D("0"), D("300"), D("900")),
        ("filtered-v1", "2026Q2", D("0"), D("360"), D("90"), D("270")),
    ]
    data_cost = con.execute(
        "select data_cost_usd from fct_data_share where model_generation = 'gen1'"
    ).fetchall()
    assert data_cost == [(D("90"),)]


def test_everything_reconciles(con):
    failures = con.execute(
        "select check_name, scope, difference from rpt_reconciliation where not passed"
    ).fetchall()
    assert failures == []
    spend = con.execute(
        "select expected, actual from rpt_reconciliation where check_name = 'spend_fully_attributed'"
    ).fetchall()
    assert spend == [(D("1260"), D("1260"))]
